// When a Run:ai access token is refreshed: before its JWT `exp` (read unverified, as the reference
// does) or its `expiresIn`, by a margin.

import { isObject } from './rows.js';

/** A token is refreshed this long before its `exp`, or a tenth of its lifetime when that is shorter. */
export const TOKEN_REFRESH_MARGIN_MS = 30_000;

/**
 * When to fetch a new token: before the JWT `exp` (or `expiresIn`) by TOKEN_REFRESH_MARGIN_MS or a
 * tenth of the lifetime, whichever is shorter, so a short-lived token is not refetched every call.
 */
export function refreshTime(token: string, expiresIn: number | undefined, requestedAt: number): number {
  const exp = jwtExpiry(token);
  let expiresAt = exp !== undefined && exp > requestedAt ? exp : undefined;
  if (expiresAt === undefined && expiresIn !== undefined && expiresIn > 0) expiresAt = requestedAt + expiresIn * 1000;
  if (expiresAt === undefined) return Infinity;
  const lifetime = expiresAt - requestedAt;
  return expiresAt - Math.min(TOKEN_REFRESH_MARGIN_MS, lifetime / 10);
}

/** The `exp` claim of a JWT in epoch ms, read without verifying the signature (as the reference does). */
export function jwtExpiry(token: string): number | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
    const exp = isObject(claims) ? claims['exp'] : undefined;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
