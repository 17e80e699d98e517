// Redpanda Connect's service sections (http, metrics, logger, tracer, label: "") load as Connect
// writes them, and OpenMeter's published collector configs fail only on components sluice lacks.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { registry } from '../../src/components/index.js';
import { loadConfigText } from '../../src/config/load.js';
import { formatProblem } from '../../src/config/problems.js';
import { createLogger } from '../../src/engine/logger.js';
import { Secrets } from '../../src/engine/secrets.js';
import { preparePipeline } from '../../src/service.js';
import { runCli } from '../support/cli.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/openmeter/${name}`, import.meta.url));
const load = (yaml: string) => loadConfigText(yaml, 'c.yaml', { registry, env: {} });
const errors = (yaml: string) => load(yaml).problems.filter((p) => p.severity === 'error').map(formatProblem);
/** `line,col` (1-based) of `needle` in `yaml`. */
const at = (yaml: string, needle: string) => {
  const before = yaml.slice(0, yaml.indexOf(needle)).split('\n');
  return `${before.length},${before.at(-1)!.length + 1}`;
};
const warnings = (yaml: string) => load(yaml).problems.filter((p) => p.severity === 'warning').map(formatProblem);

describe("OpenMeter's published collector configs", () => {
  // Every component they use exists now: they prepare as published, with no error at all.
  it.each(['http-server_config.yaml', 'quickstart_config.yaml', 'quickstart_streams_input.yaml', 'quickstart_streams_output.yaml'])(
    '%s prepares unchanged, with no error',
    (name) => {
      const { problems, ready } = preparePipeline(fixture(name), { quiet: true, env: {}, resources: [fixture('quickstart_dedupe-cache.yaml')] });
      expect(problems.filter((p) => p.severity === 'error').map(formatProblem)).toEqual([]);
      expect(ready).toBeDefined();
    },
  );

  it("the quickstart's input stream without its resources file names the missing cache, at its line", () => {
    const { problems } = preparePipeline(fixture('quickstart_streams_input.yaml'), { quiet: true, env: {} });
    expect(problems.filter((p) => p.severity === 'error').map(formatProblem)).toEqual([
      expect.stringMatching(/quickstart_streams_input\.yaml\(\d+,\d+\) pipeline\.processors\[1\]\.dedupe\.cache: cache resource 'dedupe_cache' was not found$/),
    ]);
  });

  it('the quickstart config.yaml (http + metrics only) prepares with no problem at all', () => {
    const { problems, ready } = preparePipeline(fixture('quickstart_config.yaml'), { quiet: true, env: {} });
    expect(problems.map(formatProblem)).toEqual([]);
    expect(ready?.config.http).toMatchObject({ enabled: true, address: '0.0.0.0:4195', debug_endpoints: false, root_path: '/benthos' });
    expect(ready?.config.metrics.prometheus).toMatchObject({ add_process_metrics: false, use_histogram_timing: false });
  });

  it("the http-server preset's sections load as written (input swapped for one sluice has)", () => {
    const text = readFileSync(fixture('http-server_config.yaml'), 'utf8');
    const start = text.indexOf('input:\n');
    const end = text.indexOf('# Persistent buffer');
    expect(start).toBeGreaterThan(0);
    const swapped = `${text.slice(0, start)}input:\n  stdin: {}\n${text.slice(end)}`;
    const problems = load(swapped).problems.filter((p) => p.severity === 'error');
    // Every section, field and component is accepted.
    expect(problems.map((p) => p.message)).toEqual([]);
  });
});

describe('label: ""', () => {
  it('is accepted on inputs, processors and outputs, as Connect\'s default', () => {
    expect(
      errors(`
input: { label: "", generate: { mapping: '"x"', count: 1 } }
pipeline: { processors: [ { label: "", log: {} }, { label: "", log: {} } ] }
output: { label: "", drop: {} }
`),
    ).toEqual([]);
  });

  it('a bad label is still refused', () => {
    const yaml = `output: { label: "Bad Label", drop: {} }`;
    expect(errors(yaml)).toEqual([
      `c.yaml(${at(yaml, '"Bad')}) output.label: label must be lower case letters, digits, _ and -, not starting with _ or -`,
    ]);
  });
});

describe('http', () => {
  it("takes Connect's full block", () => {
    const yaml = `
http:
  enabled: true
  address: 0.0.0.0:4195
  root_path: /benthos
  debug_endpoints: false
  cert_file: ""
  key_file: ""
  cors:
    enabled: false
    allowed_origins: []
  basic_auth:
    enabled: false
    realm: restricted
    username: ""
    password_hash: ""
    algorithm: sha256
    salt: ""
output: { drop: {} }
`;
    expect(load(yaml).problems.map(formatProblem)).toEqual([]);
  });

  it('debug_endpoints: true loads with a warning that says it does nothing', () => {
    const yaml = `http: { debug_endpoints: true }\noutput: { drop: {} }`;
    expect(warnings(yaml)).toEqual([
      `c.yaml(${at(yaml, 'true')}) http.debug_endpoints: warning: sluice serves no debug endpoints; this field is ignored`,
    ]);
  });

  it('refuses basic_auth without credentials, bcrypt, scrypt without salt, and a lone cert_file', () => {
    expect(errors(`http: { basic_auth: { enabled: true } }\noutput: { drop: {} }`)).toEqual([
      'c.yaml(1,21) http.basic_auth: both username and password_hash are required',
    ]);
    const bcrypt = `http: { basic_auth: { enabled: true, username: u, password_hash: aGFzaA==, algorithm: bcrypt } }\noutput: { drop: {} }`;
    expect(errors(bcrypt)).toEqual([
      `c.yaml(${at(bcrypt, 'bcrypt')}) http.basic_auth.algorithm: bcrypt is not supported by sluice; use sha256, md5 or scrypt`,
    ]);
    expect(errors(`http: { basic_auth: { enabled: true, username: u, password_hash: aGFzaA==, algorithm: scrypt } }\noutput: { drop: {} }`)).toEqual([
      'c.yaml(1,21) http.basic_auth.salt: salt is required for scrypt',
    ]);
    expect(errors(`http: { cert_file: a.pem }\noutput: { drop: {} }`)).toEqual(['c.yaml(1,7) http.key_file: cert_file and key_file go together']);
  });
});

describe('metrics, tracer, logger, shutdown_delay', () => {
  it("take Connect's full blocks", () => {
    const yaml = `
metrics:
  prometheus:
    use_histogram_timing: false
    histogram_buckets: []
    add_process_metrics: false
    add_go_metrics: false
    push_url: ""
    push_interval: ""
    push_job_name: benthos_push
    push_basic_auth:
      username: ""
      password: ""
    file_output_path: ""
  mapping: ""
tracer:
  none: {}
logger:
  level: INFO
  format: logfmt
  add_timestamp: false
  level_name: level
  timestamp_name: time
  message_name: msg
  static_fields:
    '@service': redpanda-connect
  file:
    path: ""
    rotate: false
    rotate_max_age_days: 0
shutdown_delay: 0s
shutdown_timeout: 20s
output: { drop: {} }
`;
    expect(load(yaml).problems.map(formatProblem)).toEqual([]);
  });

  it('metrics: none and a bare metrics: prometheus: {} load; both or neither do not', () => {
    expect(errors(`metrics: { none: {} }\noutput: { drop: {} }`)).toEqual([]);
    expect(errors(`metrics: { prometheus: {} }\noutput: { drop: {} }`)).toEqual([]);
    expect(errors(`metrics: { none: {}, prometheus: {} }\noutput: { drop: {} }`)).toEqual(['c.yaml(1,10) metrics: expected exactly one of prometheus or none']);
    expect(errors(`metrics: { mapping: '$' }\noutput: { drop: {} }`)).toEqual(['c.yaml(1,10) metrics: expected exactly one of prometheus or none']);
  });

  it('an unsupported push_url is a warning, a tracer other than none an error', () => {
    expect(warnings(`metrics: { prometheus: { push_url: "http://gw:9091" } }\noutput: { drop: {} }`)).toEqual([
      'c.yaml(1,36) metrics.prometheus.push_url: warning: pushing metrics is not supported; they are served at /metrics only',
    ]);
    expect(errors(`tracer: { jaeger: {} }\noutput: { drop: {} }`)).toEqual(['c.yaml(1,11) tracer.jaeger: unknown field']);
  });
});

describe('logger.static_fields', () => {
  function lines(config: Partial<Parameters<typeof createLogger>[0]>, log: (l: ReturnType<typeof createLogger>) => void): string[] {
    const out: string[] = [];
    const logger = createLogger(
      { level: 'INFO', format: 'json', add_timestamp: false, static_fields: {}, ...config },
      new Secrets(),
      { write: (line: string) => out.push(line) },
    );
    log(logger);
    return out;
  }

  it('a static field sluice also logs (OpenMeter sets version) appears once, with the static value', () => {
    const out = lines({ static_fields: { service: 'openmeter-collector', version: 'v1.2.3', path: 'static' } }, (l) => {
      l.info({ version: '0.1.0' }, 'Launching');
      l.child({ path: 'output' }).info('child line');
    });
    expect(out).toHaveLength(2);
    for (const line of out) {
      expect(line.match(/"version":/g)).toHaveLength(1);
      expect(line.match(/"path":/g)).toHaveLength(1);
      expect(JSON.parse(line)).toMatchObject({ service: 'openmeter-collector', version: 'v1.2.3', path: 'static' });
    }
  });

  it('level_name, timestamp_name and message_name rename the keys', () => {
    const [line] = lines({ level_name: 'severity', timestamp_name: 'ts', message_name: 'message', add_timestamp: true }, (l) => l.info('hello'));
    const record = JSON.parse(line!);
    expect(record).toMatchObject({ severity: 'info', message: 'hello' });
    expect(Date.parse(record.ts)).not.toBeNaN();
    expect(record).not.toHaveProperty('level');
    expect(record).not.toHaveProperty('msg');
  });
});

describe('buffer.sqlite pre_processors and post_processors', () => {
  it('run before the buffer is written and after it is read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-buffer-procs-'));
    try {
      const file = join(dir, 'c.yaml');
      writeFileSync(
        file,
        `
input: { generate: { mapping: '{"n": 1}', count: 2, interval: "" } }
buffer:
  sqlite:
    path: ./buffer.db
    pre_processors: [ { mapping: '{"n": n + 10}' } ]
    post_processors: [ { mapping: '{"n": n * 2}' } ]
output: { stdout: {} }
`,
      );
      const { code, stdout } = await runCli(['run', file]);
      expect(code).toBe(0);
      expect(stdout.trim().split('\n').map((l) => JSON.parse(l))).toEqual([{ n: 22 }, { n: 22 }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
