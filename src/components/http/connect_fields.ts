// Fields of Redpanda Connect's http_client that sluice accepts so a Connect config loads unchanged,
// and what it does with each (see the README's differences section).
const stringList = (description: string) => ({ type: 'array', items: { type: 'string' }, default: [], description });

export interface ConnectOnlyConfig {
  oauth: { enabled: boolean; consumer_key: string; consumer_secret: string; access_token: string; access_token_secret: string };
  jwt: { enabled: boolean; private_key_file: string; signing_method: string; claims: Record<string, unknown>; headers: Record<string, unknown> };
  extract_headers: { include_prefixes: string[]; include_patterns: string[] };
  propagate_response: boolean;
  disable_http2: boolean;
  multipart: { content_type: string; content_disposition: string; body: string }[];
}

export const connectOnlySchemas = {
  oauth: {
    type: 'object',
    additionalProperties: false,
    default: {},
    description: 'OAuth 1 request signing: accepted with enabled: false only (sluice does not sign OAuth 1 requests; use oauth2, basic_auth or a header).',
    properties: {
      enabled: { type: 'boolean', default: false },
      consumer_key: { type: 'string', default: '' },
      consumer_secret: { type: 'string', default: '', 'x-secret': true },
      access_token: { type: 'string', default: '', 'x-secret': true },
      access_token_secret: { type: 'string', default: '', 'x-secret': true },
    },
  },
  jwt: {
    type: 'object',
    additionalProperties: false,
    default: {},
    description: 'JWT-signed requests: accepted with enabled: false only (not supported by sluice).',
    properties: {
      enabled: { type: 'boolean', default: false },
      private_key_file: { type: 'string', default: '' },
      signing_method: { type: 'string', default: '' },
      claims: { type: 'object', additionalProperties: {}, default: {} },
      headers: { type: 'object', additionalProperties: {}, default: {} },
    },
  },
  extract_headers: {
    type: 'object',
    additionalProperties: false,
    default: {},
    description: 'Response headers to copy into metadata with propagate_response: accepted; sluice has no synchronous responses, so nothing reads them.',
    properties: { include_prefixes: stringList(''), include_patterns: stringList('') },
  },
  propagate_response: {
    type: 'boolean',
    default: false,
    description: 'Accepted; sluice has no synchronous responses (an http_server input), so there is nothing to propagate to.',
  },
  disable_http2: { type: 'boolean', default: false, description: 'Accepted; sluice always speaks HTTP/1.1.' },
  multipart: {
    type: 'array',
    default: [],
    description: 'Explicit parts: each request is a multipart/form-data body of these parts, interpolated against the message.',
    items: {
      type: 'object',
      additionalProperties: false,
      required: ['body'],
      properties: {
        content_type: { type: 'string', default: '', 'x-interpolated': true },
        content_disposition: { type: 'string', default: '', 'x-interpolated': true },
        body: { type: 'string', 'x-interpolated': true },
      },
    },
  },
};

/** Refuses what sluice cannot do, naming the field. */
export function checkConnectOnly(config: ConnectOnlyConfig): void {
  if (config.oauth.enabled) throw Object.assign(new Error('OAuth 1 is not supported by sluice; use oauth2, basic_auth or an Authorization header'), { field: 'oauth.enabled' });
  if (config.jwt.enabled) throw Object.assign(new Error('JWT signing is not supported by sluice; use oauth2, basic_auth or an Authorization header'), { field: 'jwt.enabled' });
}
