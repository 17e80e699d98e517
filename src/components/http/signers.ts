// Request signing Redpanda Connect's http components offer besides oauth2 and basic auth: a JWT
// signed with a private key (`jwt`), and OAuth 1.0a HMAC-SHA1 (`oauth`).
import { createHmac, createPrivateKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export interface JwtConfig {
  enabled: boolean;
  private_key_file: string;
  signing_method: string;
  claims: Record<string, unknown>;
  headers: Record<string, unknown>;
}

export interface OAuth1Config {
  enabled: boolean;
  consumer_key: string;
  consumer_secret: string;
  access_token: string;
  access_token_secret: string;
}

const JWT_METHODS: Record<string, { hash: string; kind: 'rsa' | 'ec' | 'ed'; size?: number }> = {
  RS256: { hash: 'sha256', kind: 'rsa' },
  RS384: { hash: 'sha384', kind: 'rsa' },
  RS512: { hash: 'sha512', kind: 'rsa' },
  ES256: { hash: 'sha256', kind: 'ec' },
  ES384: { hash: 'sha384', kind: 'ec' },
  ES512: { hash: 'sha512', kind: 'ec' },
  EdDSA: { hash: '', kind: 'ed' },
};

const base64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

/** Signs the configured claims once per request (a fresh `iat`): the value of an Authorization header. Throws on a bad config at build. */
export function jwtSigner(config: JwtConfig, baseDir: string): () => string {
  const method = JWT_METHODS[config.signing_method];
  if (!method) throw Object.assign(new Error(`unsupported signing_method ${JSON.stringify(config.signing_method)} (expected one of ${Object.keys(JWT_METHODS).join(', ')})`), { field: 'jwt.signing_method' });
  let key: KeyObject;
  try {
    key = createPrivateKey(readFileSync(resolve(baseDir, config.private_key_file)));
  } catch (err) {
    throw Object.assign(new Error(`cannot read the private key: ${(err as Error).message}`), { field: 'jwt.private_key_file' });
  }
  const header = base64url(JSON.stringify({ ...config.headers, alg: config.signing_method, typ: 'JWT' }));
  return () => {
    const payload = base64url(JSON.stringify({ iat: Math.floor(Date.now() / 1000), ...config.claims }));
    const input = `${header}.${payload}`;
    const signature =
      method.kind === 'ed'
        ? sign(null, Buffer.from(input), key)
        : sign(method.hash, Buffer.from(input), method.kind === 'ec' ? { key, dsaEncoding: 'ieee-p1363' } : key);
    return `Bearer ${input}.${base64url(signature)}`;
  };
}

/** RFC 5849 percent-encoding. */
const encode = (text: string) => encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** The Authorization header of an OAuth 1.0a HMAC-SHA1 signed request (query parameters signed; the body is not). */
export function oauth1Header(config: OAuth1Config, method: string, url: string, now = Date.now(), nonce = randomBytes(16).toString('hex')): string {
  const target = new URL(url);
  const oauth: Record<string, string> = {
    oauth_consumer_key: config.consumer_key,
    oauth_nonce: nonce,
    oauth_signature_method: 'HMAC-SHA1',
    oauth_timestamp: String(Math.floor(now / 1000)),
    oauth_version: '1.0',
    ...(config.access_token !== '' ? { oauth_token: config.access_token } : {}),
  };
  const params = [...target.searchParams.entries(), ...Object.entries(oauth)]
    .map(([k, v]) => [encode(k), encode(v)] as const)
    .sort(([a, av], [b, bv]) => (a === b ? (av < bv ? -1 : 1) : a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const base = `${target.protocol}//${target.host}${target.pathname}`;
  const text = `${method.toUpperCase()}&${encode(base)}&${encode(params)}`;
  const signature = createHmac('sha1', `${encode(config.consumer_secret)}&${encode(config.access_token_secret)}`).update(text).digest('base64');
  const fields = { ...oauth, oauth_signature: signature };
  return `OAuth ${Object.entries(fields)
    .map(([k, v]) => `${encode(k)}="${encode(v)}"`)
    .join(', ')}`;
}
