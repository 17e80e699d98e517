// What `sluice echo` prints instead of secrets: redacted as the logs redact them.
import { isSecretHeader, redactUrl, urlHasSecrets } from '../engine/secrets.js';

export const SCRUBBED = '!!!SECRET_SCRUBBED!!!';
/** Outside a `headers` map, keys naming a credential outright (not `client_key` or `token_url`-like settings). */
const CREDENTIAL_FIELD = /^(authorization|proxy-authorization|cookie|set-cookie|x-api-key|api-key)$|token$|secret|passw/i;

/**
 * The config with secret values (`secrets`: what env interpolation marked secret), secret fields,
 * credential headers (by name, or listed in a sibling `secret_headers`) and the credentials in
 * URLs replaced. `headers` is set while inside a `headers` map: the secret names listed beside it.
 */
export function scrubConfig(value: unknown, secrets: ReadonlySet<string>, key = '', headers?: ReadonlySet<string>): unknown {
  if (typeof value === 'string') {
    const named = headers !== undefined ? isSecretHeader(key) || headers.has(key.toLowerCase()) : CREDENTIAL_FIELD.test(key);
    if (secrets.has(value) || (value !== '' && named)) return SCRUBBED;
    return urlHasSecrets(value) ? redactUrl(value) : value;
  }
  if (Array.isArray(value)) return value.map((v) => scrubConfig(v, secrets));
  if (value === null || typeof value !== 'object') return value;
  const listed = (value as Record<string, unknown>)['secret_headers'];
  const names = new Set(Array.isArray(listed) ? listed.filter((n): n is string => typeof n === 'string').map((n) => n.toLowerCase()) : []);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrubConfig(v, secrets, k, k === 'headers' ? names : headers)]));
}
