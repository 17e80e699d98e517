// The service-wide sections of a config file as Redpanda Connect has them: `http`, `metrics`,
// `tracer`. Fields sluice accepts without acting on them are reported as warnings (never
// silently ignored), so a config copied from Connect loads and says what differs.
import type { Schema } from '../engine/component.js';
import type { ConfigPath } from './problems.js';

export interface HttpConfig {
  enabled: boolean;
  address: string;
  root_path: string;
  debug_endpoints: boolean;
  cert_file: string;
  key_file: string;
  cors: { enabled: boolean; allowed_origins: string[] };
  basic_auth: { enabled: boolean; realm: string; username: string; password_hash: string; algorithm: 'md5' | 'sha256' | 'bcrypt' | 'scrypt'; salt: string };
}

export interface PrometheusConfig {
  use_histogram_timing: boolean;
  histogram_buckets: number[];
  add_process_metrics: boolean;
  add_go_metrics: boolean;
  push_url: string;
  push_interval: string;
  push_job_name: string;
  push_basic_auth: { username: string; password: string };
  file_output_path: string;
}

export interface MetricsConfig {
  prometheus?: PrometheusConfig;
  none?: Record<string, never>;
  /** A JSONata expression over each series' name: a string renames it, null or $deleted() drops it. */
  mapping: string;
}

export const httpSchema: Schema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  description: 'The service HTTP server: /ping, /ready, /metrics, /version (also under root_path).',
  properties: {
    enabled: { type: 'boolean', default: true, description: 'Whether to run the HTTP server.' },
    address: { type: 'string', default: '0.0.0.0:4195', description: 'host:port to listen on; port 0 picks a free one.' },
    root_path: {
      type: 'string',
      default: '/benthos',
      description: 'A prefix every endpoint is also served under (e.g. /benthos/ping), for reverse proxies.',
    },
    debug_endpoints: {
      type: 'boolean',
      default: false,
      description: "Accepted for Redpanda Connect configs; sluice serves no debug endpoints (true is reported by lint).",
    },
    cert_file: { type: 'string', default: '', description: 'A PEM certificate file: with key_file, the server speaks HTTPS.' },
    key_file: { type: 'string', default: '', description: 'The PEM private key of cert_file.' },
    cors: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'Cross-origin requests from browsers.',
      properties: {
        enabled: { type: 'boolean', default: false },
        allowed_origins: { type: 'array', items: { type: 'string' }, default: [], description: 'Origins allowed, or "*" for any.' },
      },
    },
    basic_auth: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'Require HTTP basic authentication on every endpoint.',
      properties: {
        enabled: { type: 'boolean', default: false },
        realm: { type: 'string', default: 'restricted' },
        username: { type: 'string', default: '' },
        password_hash: { type: 'string', default: '', 'x-secret': true, description: 'The hashed password, base64 encoded.' },
        algorithm: {
          type: 'string',
          enum: ['md5', 'sha256', 'bcrypt', 'scrypt'],
          default: 'sha256',
          description: 'How password_hash was made (bcrypt is not supported by sluice).',
        },
        salt: { type: 'string', default: '', description: 'The scrypt salt, base64 encoded.' },
      },
    },
  },
};

const prometheusSchema: Schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    use_histogram_timing: {
      type: 'boolean',
      default: false,
      description: 'Timers (*_latency_ns) as histograms in seconds instead of summaries in nanoseconds.',
    },
    histogram_buckets: { type: 'array', items: { type: 'number' }, default: [], description: 'Buckets of those histograms; empty: Prometheus\' defaults.' },
    add_process_metrics: { type: 'boolean', default: false, description: 'Add process_* metrics (CPU, memory, file descriptors).' },
    add_go_metrics: { type: 'boolean', default: false, description: 'Add the runtime\'s metrics (nodejs_* in sluice: event loop, heap, GC).' },
    push_url: { type: 'string', default: '', description: 'Accepted; pushing to a Pushgateway is not supported (reported by lint).' },
    push_interval: { type: 'string', default: '' },
    push_job_name: { type: 'string', default: 'benthos_push' },
    push_basic_auth: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { username: { type: 'string', default: '' }, password: { type: 'string', default: '', 'x-secret': true } },
    },
    file_output_path: { type: 'string', default: '', description: 'Accepted; writing metrics to a file at exit is not supported (reported by lint).' },
  },
};

export const metricsSchema: Schema = {
  type: 'object',
  additionalProperties: false,
  default: { prometheus: {} },
  description: 'How metrics are exposed: prometheus (served at /metrics) or none.',
  properties: {
    prometheus: prometheusSchema,
    none: { type: 'object', additionalProperties: false, properties: {} },
    mapping: {
      type: 'string',
      default: '',
      description:
        'A JSONata expression evaluated on each series name (as a string): a string result renames the series, null or $deleted() drops it. (Redpanda Connect takes Bloblang here.)',
    },
  },
};

export const tracerSchema: Schema = {
  type: 'object',
  additionalProperties: false,
  default: { none: {} },
  description: 'Tracing: only none is supported.',
  properties: { none: { type: 'object', additionalProperties: false, properties: {} } },
};

/** Fields accepted for compatibility that sluice does not act on: one warning each, with its path. */
export function serviceWarnings(config: { http: HttpConfig; metrics: MetricsConfig; logger: { file: { rotate: boolean } } }): { path: ConfigPath; message: string }[] {
  const out: { path: ConfigPath; message: string }[] = [];
  if (config.logger.file.rotate) out.push({ path: ['logger', 'file', 'rotate'], message: 'log rotation is not supported; the file grows (rotate it with logrotate copytruncate)' });
  if (config.http.debug_endpoints) out.push({ path: ['http', 'debug_endpoints'], message: 'sluice serves no debug endpoints; this field is ignored' });
  const p = config.metrics.prometheus;
  if (p?.push_url) out.push({ path: ['metrics', 'prometheus', 'push_url'], message: 'pushing metrics is not supported; they are served at /metrics only' });
  if (p?.file_output_path) out.push({ path: ['metrics', 'prometheus', 'file_output_path'], message: 'writing metrics to a file is not supported; this field is ignored' });
  return out;
}

/** Problems valid-looking http and metrics sections still have (found at load, before anything listens). */
export function serviceProblems({ http, metrics }: { http: HttpConfig; metrics: MetricsConfig }): { path: ConfigPath; message: string }[] {
  const out: { path: ConfigPath; message: string }[] = [];
  if ((metrics.prometheus === undefined) === (metrics.none === undefined)) out.push({ path: ['metrics'], message: 'expected exactly one of prometheus or none' });
  if ((http.cert_file === '') !== (http.key_file === '')) out.push({ path: ['http', http.cert_file === '' ? 'cert_file' : 'key_file'], message: 'cert_file and key_file go together' });
  const auth = http.basic_auth;
  if (auth.enabled) {
    if (auth.username === '' || auth.password_hash === '') out.push({ path: ['http', 'basic_auth'], message: 'both username and password_hash are required' });
    if (auth.algorithm === 'bcrypt') out.push({ path: ['http', 'basic_auth', 'algorithm'], message: 'bcrypt is not supported by sluice; use sha256, md5 or scrypt' });
    if (auth.algorithm === 'scrypt' && auth.salt === '') out.push({ path: ['http', 'basic_auth', 'salt'], message: 'salt is required for scrypt' });
  }
  return out;
}
