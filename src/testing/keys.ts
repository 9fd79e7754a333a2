import { randomBytes } from 'node:crypto';
import {
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  type CryptoKey,
  type JSONWebKeySet,
  type JWK,
  type JWTVerifyGetKey,
} from 'jose';

/** One RS256 signing key of the realm. */
export interface SigningKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

/** A Keycloak-looking key id (base64url, 43 characters). */
function newKid(): string {
  return randomBytes(32).toString('base64url');
}

async function newSigningKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { modulusLength: 2048 });
  const kid = newKid();
  const jwk = await exportJWK(publicKey);
  if (jwk.n === undefined || jwk.e === undefined) throw new Error('RSA key export failed');
  return { kid, privateKey, publicJwk: { kid, kty: 'RSA', alg: 'RS256', use: 'sig', n: jwk.n, e: jwk.e } };
}

/**
 * The realm's keys, in memory only: RS256 keys published in the JWKS (the last one signs), and
 * a symmetric secret for refresh tokens (HS512, like Keycloak; never published).
 */
export class KeyStore {
  private keys: SigningKey[];
  private verifyKey: JWTVerifyGetKey;
  /** Secret of the HS512 refresh tokens. */
  readonly refreshSecret: Uint8Array = new Uint8Array(randomBytes(64));
  /** `kid` header of refresh tokens (Keycloak puts the HMAC key's id there). */
  readonly refreshKid: string = newKid();

  private constructor(first: SigningKey) {
    this.keys = [first];
    this.verifyKey = createLocalJWKSet(this.jwks());
  }

  /** Generates the first key (a 2048-bit RSA key takes some tens of milliseconds). */
  static async create(): Promise<KeyStore> {
    return new KeyStore(await newSigningKey());
  }

  /** The signing key in use: the most recently added one. */
  get active(): SigningKey {
    const key = this.keys.at(-1);
    if (!key) throw new Error('no signing key');
    return key;
  }

  get(kid: string): SigningKey | undefined {
    return this.keys.find((key) => key.kid === kid);
  }

  /** The public JWKS, as served at the `certs` endpoint. */
  jwks(): JSONWebKeySet {
    return { keys: this.keys.map((key) => ({ ...key.publicJwk })) };
  }

  /** Key resolver for `jwtVerify`; follows rotations and removals. */
  readonly getKey: JWTVerifyGetKey = (header, token) => this.verifyKey(header, token);

  async rotate(): Promise<string> {
    const key = await newSigningKey();
    this.keys.push(key);
    this.verifyKey = createLocalJWKSet(this.jwks());
    return key.kid;
  }

  remove(kid: string): void {
    if (kid === this.active.kid) throw new Error(`cannot remove the active signing key ${kid}`);
    const before = this.keys.length;
    this.keys = this.keys.filter((key) => key.kid !== kid);
    if (this.keys.length === before) throw new Error(`unknown signing key ${kid}`);
    this.verifyKey = createLocalJWKSet(this.jwks());
  }
}
