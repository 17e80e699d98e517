const REDACTED = '[REDACTED]';
// Credentials that can show up in text without ever having been configured (a token echoed back
// by a server, an Authorization header in an error message).
const CREDENTIAL_PATTERNS = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/g;

/**
 * The set of secret values of one running pipeline. Every log line and every user-facing error
 * passes through scrub(), so a secret is redacted however it got into the text.
 */
export class Secrets {
  #values = new Set<string>();
  #pattern: RegExp | undefined;

  /** Registers a value to redact. Values shorter than 4 characters are ignored: redacting them would shred ordinary text. */
  add(value: string | undefined): void {
    if (value === undefined || value.length < 4 || this.#values.has(value)) return;
    this.#values.add(value);
    const alternatives = [...this.#values]
      .sort((a, b) => b.length - a.length)
      .map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    this.#pattern = new RegExp(alternatives.join('|'), 'g');
  }

  scrub(text: string): string {
    const scrubbed = this.#pattern ? text.replace(this.#pattern, REDACTED) : text;
    return scrubbed.replace(CREDENTIAL_PATTERNS, `$1 ${REDACTED}`);
  }
}

/**
 * Header names whose values are credentials, whatever the value looks like: any name containing
 * auth, key, token, secret, password (or passwd), cookie or credential (`X-Auth-Key`, `Api-Key`,
 * `Proxy-Authorization`, `Set-Cookie`...).
 */
export function isSecretHeader(name: string): boolean {
  return /auth|key|token|secret|passw|cookie|credential/i.test(name);
}

/**
 * The narrower set of header names that always carry a credential (Authorization, cookies, API
 * keys, tokens, secrets): a value computed per message under such a name is registered as a
 * secret. Under a name like `Idempotency-Key` it would register every message's id, so names that
 * merely contain `key` or `auth` are redacted (isSecretHeader) but not registered.
 */
export function isCredentialHeader(name: string): boolean {
  return /^(authorization|proxy-authorization|cookie|set-cookie|x-api-key|api-key)$/i.test(name) || /token|secret|passw/i.test(name);
}

/** Query parameter names whose values are credentials. */
const SECRET_QUERY_KEY = /token|secret|passw|key|signature|sig|auth|credential/i;

/**
 * A URL as it may be shown: the password of its userinfo replaced by `xxxxx`, and the values of
 * query parameters named like credentials (`api_key`, `token`, `signature`...) by `[REDACTED]`.
 * Text that is not a URL has any `//user:pass@` replaced by `//xxxxx@`.
 */
export function redactUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return text.replace(/\/\/[^/@\s]*@/, '//xxxxx@');
  }
  let changed = false;
  if (url.password) {
    url.password = 'xxxxx';
    changed = true;
  }
  for (const key of [...url.searchParams.keys()]) {
    if (SECRET_QUERY_KEY.test(key)) {
      url.searchParams.set(key, REDACTED);
      changed = true;
    }
  }
  // Unchanged, the text is returned as written (URL would normalise it, e.g. add a trailing slash).
  return changed ? url.toString().replaceAll(encodeURIComponent(REDACTED), REDACTED) : text;
}

/** Whether redactUrl would change `text`: a URL with a password or a credential in its query. */
export function urlHasSecrets(text: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(text) && redactUrl(text) !== text;
}
