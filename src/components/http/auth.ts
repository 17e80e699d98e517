// Credentials an HTTP output adds to each attempt: basic auth or an OAuth 2 client-credentials token.
import { request, type Dispatcher } from 'undici';
import type { Secrets } from '../../engine/secrets.js';
import { describeTransportError, headerValue, parseTargetUrl, readAtMost, redactUrl, registerCredential } from './support.js';

/** The `oauth2` and `basic_auth` blocks of an HTTP component. */
export interface AuthConfig {
  oauth2: {
    enabled: boolean;
    client_key: string;
    client_secret: string;
    token_url: string;
    scopes: string[];
    endpoint_params: Record<string, string[]>;
  };
  basic_auth: { enabled: boolean; username: string; password: string };
}

/** Adds basic or OAuth 2 credentials to each attempt, registering every credential with the secrets. */
export class Authorizer {
  #basic: string | undefined;
  #oauth2: AuthConfig['oauth2'];
  #secrets: Secrets;
  #timeoutMs: number;
  #dispatcher: () => Dispatcher;
  #token: { value: string; expiresAt: number } | undefined;
  #pending: Promise<string> | undefined;

  constructor(config: AuthConfig, secrets: Secrets, timeoutMs: number, dispatcher: () => Dispatcher) {
    this.#secrets = secrets;
    this.#oauth2 = config.oauth2;
    this.#timeoutMs = timeoutMs;
    this.#dispatcher = dispatcher;
    if (config.oauth2.enabled) {
      if (config.oauth2.token_url === '') throw new Error('oauth2.token_url: required when oauth2 is enabled');
      parseTargetUrl(config.oauth2.token_url, 'oauth2.token_url');
      secrets.add(config.oauth2.client_secret);
    }
    if (config.basic_auth.enabled) {
      const { username, password } = config.basic_auth;
      this.#basic = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
      secrets.add(password);
      registerCredential(secrets, this.#basic);
    }
  }

  async headers(signal: AbortSignal): Promise<Record<string, string>> {
    if (this.#oauth2.enabled) return { authorization: `Bearer ${await this.#accessToken(signal)}` };
    if (this.#basic) return { authorization: this.#basic };
    return {};
  }

  /** Forgets the OAuth 2 token after a 401; true when there was one (so a retry may succeed). */
  invalidate(): boolean {
    if (!this.#oauth2.enabled) return false;
    this.#token = undefined;
    return true;
  }

  #accessToken(signal: AbortSignal): Promise<string> {
    if (this.#token && Date.now() < this.#token.expiresAt) return Promise.resolve(this.#token.value);
    this.#pending ??= this.#fetchToken(signal).finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  /** The client-credentials grant (RFC 6749 §4.4) with the client authenticated by basic auth. */
  async #fetchToken(signal: AbortSignal): Promise<string> {
    const { client_key, client_secret, token_url, scopes, endpoint_params } = this.#oauth2;
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (scopes.length > 0) form.set('scope', scopes.join(' '));
    for (const [key, values] of Object.entries(endpoint_params)) for (const value of values) form.append(key, value);
    const client = `${encodeURIComponent(client_key)}:${encodeURIComponent(client_secret)}`;
    const timeout = this.#timeoutMs > 0 ? [AbortSignal.timeout(this.#timeoutMs)] : [];
    let response: Dispatcher.ResponseData;
    let text: string;
    try {
      response = await request(token_url, {
        dispatcher: this.#dispatcher(),
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
          authorization: `Basic ${Buffer.from(client).toString('base64')}`,
        },
        body: form.toString(),
        signal: AbortSignal.any([signal, ...timeout]),
      });
      text = await readAtMost(response.body);
    } catch (err) {
      throw new Error(`oauth2: token request to ${redactUrl(token_url)} failed: ${describeTransportError(err as Error)}`);
    }
    if (response.statusCode < 200 || response.statusCode > 299) {
      throw new Error(`oauth2: token request to ${redactUrl(token_url)} returned ${response.statusCode}: ${this.#secrets.scrub(text.slice(0, 300))}`);
    }
    const fields = parseTokenResponse(text, headerValue(response.headers, 'content-type'));
    if (!fields.access_token) throw new Error(`oauth2: token response from ${redactUrl(token_url)} has no access_token`);
    this.#secrets.add(fields.access_token);
    // Refresh a little early so a token does not expire in flight.
    const lifetime = Number(fields.expires_in);
    this.#token = { value: fields.access_token, expiresAt: lifetime > 0 ? Date.now() + Math.max(lifetime - 10, lifetime / 2) * 1000 : Infinity };
    return fields.access_token;
  }
}

function parseTokenResponse(text: string, contentType: string | undefined): Record<string, string | undefined> {
  if (contentType?.includes('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(text));
  try {
    const value = JSON.parse(text) as Record<string, unknown>;
    return { access_token: stringOr(value.access_token), expires_in: stringOr(value.expires_in) };
  } catch {
    return Object.fromEntries(new URLSearchParams(text));
  }
}

const stringOr = (value: unknown) => (typeof value === 'string' || typeof value === 'number' ? String(value) : undefined);

