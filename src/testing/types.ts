/** A person (or service account) known to the emulator: both the SSO and the AuthZ API see it. */
export interface EmulatorUser {
  /** CERN login (`upn`, token `sub`). eduGAIN logins may contain `/`. */
  login: string;
  /** Password for the emulator's login form. Default `"demo"`. */
  password?: string;
  /** CERN person id; absent for guests and eduGAIN users. */
  personId?: number;
  firstName?: string;
  lastName?: string;
  displayName?: string;
  email?: string;
  preferredLanguage?: 'EN' | 'FR';
  /** AuthZ identity type. Default `"Person"`. */
  type?: 'Person' | 'Service' | 'Secondary' | 'Application';
  /** AuthZ identity source. Default `"cern"` (`"edugain"` for eduGAIN users). */
  source?: 'cern' | 'edugain' | 'external';
  /** Institute (`instituteName`). */
  affiliation?: string;
  /** Internal phone number (`telephone1`), e.g. `"71234"`. */
  phone?: string;
  department?: string;
  group?: string;
  section?: string;
  uid?: number;
  gid?: number;
  /** Default true. */
  active?: boolean;
  /** ISO timestamp (`modificationTime`); default a fixed date. */
  modificationTime?: string;
}

/** An e-group. Memberships are precomputed: members of `memberGroups` are members too. */
export interface EmulatorGroup {
  /** `groupIdentifier`, e.g. `"it-dep"`. */
  id: string;
  displayName?: string;
  description?: string;
  /** Logins of direct members. */
  members?: string[];
  /** Ids of nested groups whose members are members of this group. */
  memberGroups?: string[];
}

/** A confidential client registered in the emulated Application Portal. */
export interface EmulatorClient {
  clientId: string;
  clientSecret: string;
  /** Exact redirect URIs; a trailing `*` matches any suffix (Keycloak's wildcard). */
  redirectUris: string[];
  /** Allowed `post_logout_redirect_uri`s (same matching). Default: the redirect URIs' rules. */
  postLogoutRedirectUris?: string[];
  /** Where the emulator POSTs back-channel `logout_token`s. */
  backchannelLogoutUri?: string;
  /** Application Portal roles (`cern_roles`) by login. */
  roles?: Record<string, string[]>;
  /** Put a `groups` claim in ID and access tokens. Default false. */
  groupsClaim?: boolean;
  /** `aud` of access tokens issued to this client. Default `[clientId]`. */
  accessTokenAudience?: string[];
}
