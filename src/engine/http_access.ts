// Who may use the service HTTP server, as Redpanda Connect's `http.basic_auth` and `http.cors`:
// checks run before any endpoint, and answer the request themselves when they refuse it.
import { createHash, scryptSync, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface BasicAuth {
  readonly realm: string;
  readonly username: string;
  /** base64 of the hash. */
  readonly password_hash: string;
  readonly algorithm: 'md5' | 'sha256' | 'scrypt' | 'bcrypt';
  /** base64; scrypt only. */
  readonly salt: string;
}

export interface Cors {
  readonly allowed_origins: readonly string[];
  /** Headers a preflight allows; absent or empty: those the preflight asks for. */
  readonly allowed_headers?: readonly string[];
}

/** Returns false when it answered the request (refused, or a CORS preflight). */
export type AccessCheck = (req: IncomingMessage, res: ServerResponse) => boolean;

export function accessCheck(auth: BasicAuth | undefined, cors: Cors | undefined): AccessCheck {
  const matches = auth ? passwordMatcher(auth) : undefined;
  return (req, res) => {
    if (cors && !applyCors(cors, req, res)) return false;
    if (!auth || !matches) return true;
    const { user, pass } = credentials(req.headers.authorization);
    if (equal(Buffer.from(user), Buffer.from(auth.username)) && matches(pass)) return true;
    res.writeHead(401, { 'www-authenticate': `Basic realm=${JSON.stringify(auth.realm)}, charset="UTF-8"`, 'content-type': 'text/plain' }).end('Unauthorized\n');
    return false;
  };
}

// The parameters Redpanda Connect hashes scrypt passwords with.
const SCRYPT = { N: 32768, r: 8, p: 1, keyLength: 32 };

function passwordMatcher(auth: BasicAuth): (password: string) => boolean {
  const expected = Buffer.from(auth.password_hash, 'base64');
  switch (auth.algorithm) {
    case 'md5':
    case 'sha256':
      return (password) => equal(createHash(auth.algorithm).update(password).digest(), expected);
    case 'scrypt': {
      const salt = Buffer.from(auth.salt, 'base64');
      return (password) =>
        equal(scryptSync(password, salt, SCRYPT.keyLength, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p, maxmem: 64 * 1024 * 1024 }), expected);
    }
    default:
      // bcrypt is refused when the config loads; never let anyone in if one gets here.
      return () => false;
  }
}

function credentials(header: string | undefined): { user: string; pass: string } {
  if (!header?.toLowerCase().startsWith('basic ')) return { user: '', pass: '' };
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon === -1 ? { user: '', pass: '' } : { user: decoded.slice(0, colon), pass: decoded.slice(colon + 1) };
}

function equal(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Sets CORS headers for an allowed origin; answers a preflight (OPTIONS) itself. */
function applyCors(cors: Cors, req: IncomingMessage, res: ServerResponse): boolean {
  const origin = req.headers.origin;
  const allowed = origin !== undefined && (cors.allowed_origins.includes('*') || cors.allowed_origins.includes(origin));
  if (allowed) {
    res.setHeader('access-control-allow-origin', cors.allowed_origins.includes('*') ? '*' : origin);
    res.setHeader('vary', 'Origin');
  }
  if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
    if (allowed) {
      res.setHeader('access-control-allow-methods', 'GET, HEAD, POST, PUT, PATCH, DELETE');
      const headers = cors.allowed_headers?.length ? cors.allowed_headers.join(', ') : req.headers['access-control-request-headers'];
      if (headers) res.setHeader('access-control-allow-headers', headers);
    }
    res.writeHead(allowed ? 204 : 403).end();
    return false;
  }
  return true;
}
