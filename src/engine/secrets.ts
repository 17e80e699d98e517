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

/** Header names whose values are credentials, whatever the value looks like. */
export function isSecretHeader(name: string): boolean {
  return /^(authorization|proxy-authorization|cookie|set-cookie|x-api-key|api-key)$/i.test(name) || /token|secret/i.test(name);
}
