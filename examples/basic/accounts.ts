/**
 * The demo's local user accounts, created by `onLogin` at a person's first sign-in: what a real
 * app keeps in its database, keyed by `(issuer, login)` (two issuers may each have a `jdoe`).
 * In memory here, bounded, so the demo needs nothing else.
 */
export interface LocalAccount {
  id: number;
  issuer: string;
  login: string;
  createdAt: Date;
  lastSignInAt: Date;
  signIns: number;
}

declare module 'express-session' {
  interface SessionData {
    /** The local account of the signed-in user, set by the demo's onLogin. */
    accountId?: number;
  }
}

export class LocalAccounts {
  // A Map, never a plain object: logins come from the identity provider.
  private readonly byIdentity = new Map<string, LocalAccount>();
  private readonly byId = new Map<number, LocalAccount>();

  constructor(private readonly max = 10_000) {}

  /** The account of `(issuer, login)`, created at the first sign-in; counts this sign-in. */
  signIn(issuer: string, login: string, now = new Date()): LocalAccount {
    const key = JSON.stringify([issuer, login]);
    let account = this.byIdentity.get(key);
    if (account === undefined) {
      if (this.byIdentity.size >= this.max) throw new Error('the demo account table is full');
      account = { id: this.byId.size + 1, issuer, login, createdAt: now, lastSignInAt: now, signIns: 0 };
      this.byIdentity.set(key, account);
      this.byId.set(account.id, account);
    }
    account.lastSignInAt = now;
    account.signIns += 1;
    return account;
  }

  get(id: number | undefined): LocalAccount | undefined {
    return id === undefined ? undefined : this.byId.get(id);
  }
}
