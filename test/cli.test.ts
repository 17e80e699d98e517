// The CLI's commands as users type them: echo, list, --version, usage errors, and the flags of
// run that change what runs (-e, -s, --chilled, --output).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { components, registry } from '../src/components/index.js';
import { loadConfigText } from '../src/config/load.js';
import type { Schema } from '../src/engine/component.js';
import { runCli } from './support/cli.js';

const SCRUBBED = '!!!SECRET_SCRUBBED!!!';
const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const NO_HTTP = ['-s', 'http.enabled=false'];

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'sluice-cli-'));
}

function tempFile(name: string, text: string, dir = tempDir()): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** Two messages carrying a word from the environment, written to a file unless --output says otherwise. */
function wordPipeline(dir: string): string {
  return tempFile(
    'word.yaml',
    `
input:
  generate:
    mapping: '{ "word": "\${SLUICE_CLI_TEST_WORD}" }'
    interval: ""
    count: 2
output:
  file:
    path: ${JSON.stringify(join(dir, 'configured.jsonl'))}
`,
    dir,
  );
}

/** The first string property marked x-secret reachable through `properties`, as a key path. */
function secretPath(schema: Schema, at: string[] = []): string[] | undefined {
  if (schema['x-secret'] === true && (schema.type === 'string' || schema.type === undefined)) return at;
  for (const [key, sub] of Object.entries((schema.properties as Record<string, Schema> | undefined) ?? {})) {
    const found = secretPath(sub, [...at, key]);
    if (found) return found;
  }
  return undefined;
}

describe('sluice echo', () => {
  it('prints the normalised config: env resolved, defaults filled, credential-named fields scrubbed', async () => {
    const file = tempFile(
      'echo.yaml',
      `
input:
  generate:
    mapping: '{ "n": \${SLUICE_CLI_TEST_N} }'
pipeline:
  processors:
    - catch:
        - log: { message: failed }
logger:
  static_fields:
    Authorization: Bearer abc123
    api_token: t0k3n
    team: billing
`,
    );
    const { code, stdout, stderr } = await runCli(['echo', file], { SLUICE_CLI_TEST_N: '7' });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const echoed = parse(stdout);
    expect(echoed.input.generate).toEqual({ mapping: '{ "n": 7 }', interval: '1s', count: 0, batch_size: 1, auto_replay_nacks: true });
    expect(echoed.pipeline.threads).toBe(-1);
    expect(echoed.pipeline.processors[0].catch[0].log).toMatchObject({ level: 'INFO', message: 'failed' });
    expect(echoed.output).toHaveProperty('stdout');
    expect(echoed.http).toMatchObject({ enabled: true, address: '0.0.0.0:4195' });
    expect(echoed.logger).toMatchObject({ level: 'INFO', format: 'logfmt' });
    expect(echoed.shutdown_timeout).toBe('20s');
    expect(echoed.logger.static_fields).toEqual({ Authorization: SCRUBBED, api_token: SCRUBBED, team: 'billing' });
    expect(stdout).not.toMatch(/abc123|t0k3n/);
  });

  it('redacts as the logs do: URL passwords and credential query values, credential-named headers, secret_headers; lint never quotes a secret', async () => {
    const file = tempFile(
      'secrets.yaml',
      `
input:
  run_ai:
    url: http://collector:pw-SECRET-1@runai.example/?api_key=qs-SECRET-2&page=1
    app_id: a
    app_secret: app-SECRET-3
output:
  http_client:
    url: http://user:pw-SECRET-4@ingest.example/api/v1/events?token=qs-SECRET-5&x=1
    headers:
      X-Auth-Key: hdr-SECRET-6
      X-Tenant-Credential: hdr-SECRET-7
      X-Custom: hdr-SECRET-8
      Content-Type: application/json
    secret_headers: [x-custom]
`,
    );
    const { code, stdout } = await runCli(['echo', file]);
    expect(code).toBe(0);
    expect(stdout).not.toMatch(/SECRET-/);
    const echoed = parse(stdout);
    expect(echoed.input.run_ai.url).toBe('http://collector:xxxxx@runai.example/?api_key=[REDACTED]&page=1');
    expect(echoed.output.http_client.url).toBe('http://user:xxxxx@ingest.example/api/v1/events?token=[REDACTED]&x=1');
    expect(echoed.output.http_client.headers).toEqual({ 'X-Auth-Key': SCRUBBED, 'X-Tenant-Credential': SCRUBBED, 'X-Custom': SCRUBBED, 'Content-Type': 'application/json' });

    const numeric = tempFile('numeric.yaml', 'input:\n  run_ai:\n    url: https://x.run.ai\n    app_id: a\n    app_secret: 90817263544\n');
    const lint = await runCli(['lint', numeric]);
    expect(lint.stderr).toBe(`${numeric}(5,17) input.run_ai.app_secret: expected string, got number\n`);
  });

  it('its output is a config that echoes to itself', async () => {
    const dir = tempDir();
    const file = tempFile('in.yaml', `input: { generate: { mapping: '1', count: 1 } }\noutput: { drop: {} }\n`, dir);
    const first = await runCli(['echo', file]);
    const again = await runCli(['echo', tempFile('echoed.yaml', first.stdout, dir)]);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(first.stdout);
  });

  it('accepts -s and -e like run', async () => {
    const dir = tempDir();
    const env = tempFile('.env', 'SLUICE_CLI_TEST_N=41 # the answer, almost\n', dir);
    const file = tempFile('in.yaml', `input: { generate: { mapping: '\${SLUICE_CLI_TEST_N}' } }\n`, dir);
    const { code, stdout } = await runCli(['echo', file, '-e', env, '-s', 'input.generate.count=3']);
    expect(code).toBe(0);
    expect(parse(stdout).input.generate).toMatchObject({ mapping: '41', count: 3 });
  });

  const secret = components.map((spec) => ({ spec, path: secretPath(spec.schema) })).find((c) => c.path !== undefined);
  it(`scrubs x-secret fields (${secret ? `${secret.spec.kind} ${secret.spec.name}` : 'none registered'})`, async () => {
    const { spec, path } = secret!;
    // Start from the component's example, as the loader fills it, then set the secret.
    const slot = spec.kind === 'processor' ? 'pipeline' : spec.kind;
    const node = { [spec.name]: structuredClone(spec.example) as Record<string, unknown> };
    let target = node[spec.name]!;
    for (const key of path!.slice(0, -1)) target = (target[key] ??= {}) as Record<string, unknown>;
    target[path!.at(-1)!] = 's3cr3t-value';
    const config = slot === 'pipeline' ? { pipeline: { processors: [node] } } : { [slot]: node };
    const loaded = loadConfigText(stringify(config), 'secret.yaml', { registry, env: {} });
    expect(loaded.secrets).toContain('s3cr3t-value');

    const { code, stdout } = await runCli(['echo', tempFile('secret.yaml', stringify(config))]);
    expect(code).toBe(0);
    expect(stdout).not.toContain('s3cr3t-value');
    expect(stdout).toContain(SCRUBBED);
  });

  it('scrubs http_client credential headers', async () => {
    const file = tempFile(
      'http.yaml',
      `
input: { generate: { mapping: '1', count: 1 } }
output:
  http_client:
    url: http://127.0.0.1:9/events
    headers:
      Authorization: Bearer abc123
      Content-Type: application/json
`,
    );
    const { code, stdout } = await runCli(['echo', file]);
    expect(code).toBe(0);
    expect(parse(stdout).output.http_client.headers).toEqual({ Authorization: SCRUBBED, 'Content-Type': 'application/json' });
  });

  it('prints the problems and exits 1 on a bad config', async () => {
    const file = tempFile('bad.yaml', 'output:\n  stdout: { codc: lines }\n');
    const { code, stdout, stderr } = await runCli(['echo', file]);
    expect(stderr).toBe(`${file}(2,13) output.stdout.codc: unknown field (did you mean codec?)\n`);
    expect(stdout).toBe('');
    expect(code).toBe(1);
  });
});

describe('sluice list', () => {
  it('prints every component by kind, with its summary', async () => {
    const { code, stdout } = await runCli(['list']);
    expect(code).toBe(0);
    const sections = stdout.split(/\n(?=[A-Z])/);
    for (const [heading, kind] of [['Inputs:', 'input'], ['Processors:', 'processor'], ['Outputs:', 'output']] as const) {
      const section = sections.find((s) => s.startsWith(heading))!;
      expect(section).toBeDefined();
      for (const spec of components.filter((c) => c.kind === kind)) {
        expect(section).toContain(`  ${spec.name.padEnd(16)} ${spec.summary}\n`);
      }
    }
  });

  it('--format json lists the names of each kind, sorted', async () => {
    const { code, stdout } = await runCli(['list', '--format', 'json']);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({
      inputs: registry.names('input'),
      processors: registry.names('processor'),
      outputs: registry.names('output'),
      rate_limits: registry.names('rate_limit'),
      caches: registry.names('cache'),
    });
  });

  it('takes the kinds to list', async () => {
    const { code, stdout } = await runCli(['list', 'processors', '--format', 'json']);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ processors: registry.names('processor') });
  });

  it('prints one component\'s every field with its type, default and description, from its schema', async () => {
    const { code, stdout } = await runCli(['list', 'http_client']);
    expect(code).toBe(0);
    const spec = components.find((c) => c.name === 'http_client')!;
    expect(stdout.split('\n')[0]).toBe(`http_client (output): ${spec.summary}`);
    const properties = spec.schema['properties'] as Record<string, Schema>;
    for (const [name, field] of Object.entries(properties)) {
      const facts = stdout.split('\n').find((l) => l.startsWith(`  ${name} (`));
      expect(facts, name).toBeDefined();
      if ('default' in field) expect(facts).toContain(`default ${JSON.stringify(field['default'])}`);
      if (field['description']) expect(stdout).toContain(`      ${String(field['description'])}\n`);
    }
    expect(stdout).toMatch(/^ {2}url \(string, required\)$/m);
    expect(stdout).toMatch(/^ {2}batching\.count \(integer, default 0\)$/m);
  });

  it('create prints a config with every default that lints clean', async () => {
    const { code, stdout } = await runCli(['create', 'run_ai/mapping/http_client']);
    expect(code).toBe(0);
    const config = parse(stdout) as { input: { run_ai: Record<string, unknown> }; pipeline: { processors: unknown[] }; output: { http_client: Record<string, unknown> } };
    const runAi = components.find((c) => c.name === 'run_ai')!;
    expect(config.input.run_ai['schedule']).toBe((runAi.schema['properties'] as Record<string, Schema>)['schedule']!['default']);
    expect(config.input.run_ai['url']).toBe((runAi.example as Record<string, unknown>)['url']);
    expect(config.pipeline.processors).toHaveLength(1);
    const httpClient = components.find((c) => c.name === 'http_client')!;
    expect(config.output.http_client['retries']).toBe((httpClient.schema['properties'] as Record<string, Schema>)['retries']!['default']);
    const file = tempFile('created.yaml', stdout);
    expect(await runCli(['lint', file])).toMatchObject({ code: 0, stderr: '' });

    const bad = await runCli(['create', 'run_ia/http_client']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^no input named "run_ia" \(did you mean run_ai\?\)/);
  });

  it('rejects an unknown kind or format with exit 1 and no stack trace', async () => {
    for (const args of [['list', 'tracers'], ['list', '--format', 'cue']]) {
      const { code, stderr } = await runCli(args);
      expect(stderr).toMatch(/^no component named "tracers"|^--format takes/);
      expect(stderr).not.toMatch(/\n\s+at /);
      expect(code).toBe(1);
    }
  });
});

describe('sluice usage', () => {
  it('--version prints the package version', async () => {
    const { code, stdout } = await runCli(['--version']);
    expect(stdout).toBe(`${VERSION}\n`);
    expect(code).toBe(0);
  });

  it('-v is --version, and bin/sluice (the checkout\'s CLI) runs it', async () => {
    const [short, bin] = await Promise.all([
      runCli(['-v']),
      promisify(execFile)(fileURLToPath(new URL('../bin/sluice', import.meta.url)), ['--version']),
    ]);
    expect(short).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
    expect(bin.stdout).toBe(`${VERSION}\n`);
  });

  it('--help on every command prints its own usage to stdout, exit 0, and runs nothing', async () => {
    const commands = [['run'], ['lint'], ['echo'], ['list'], ['test'], ['map'], ['demo'], ['sim'], ['sim', 'runai'], ['sim', 'openmeter'], ['sim', 'kubernetes']];
    const results = await Promise.all(commands.map((command) => runCli([...command, '--help'])));
    results.forEach(({ code, stdout, stderr }, i) => {
      const name = commands[i]!.join(' ');
      expect({ name, code, stderr }).toEqual({ name, code: 0, stderr: '' });
      expect(stdout).toMatch(new RegExp(`^Usage:\\s+sluice ${name} `, 'm'));
      // Only this command's usage: no other command's line.
      const other = ['run', 'lint', 'echo', 'list', 'test', 'map', 'demo', 'sim'].filter((c) => c !== commands[i]![0]);
      expect(stdout).not.toMatch(new RegExp(`sluice (${other.join('|')}) `));
    });
    expect((await runCli(['run', 'x.yaml', '-h'])).code).toBe(0);
  });

  it('an unknown command exits 1 with usage, without a stack trace', async () => {
    const { code, stdout, stderr } = await runCli(['frobnicate']);
    expect(stderr).toMatch(/^unknown command "frobnicate"\n/);
    expect(stderr).toMatch(/Usage:/);
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(stdout).toBe('');
    expect(code).toBe(1);
  });

  it('an unknown flag exits 1 with usage, without a stack trace', async () => {
    const { code, stderr } = await runCli(['lint', '--nope', 'x.yaml']);
    expect(stderr).toMatch(/Unknown option '--nope'/);
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(code).toBe(1);
  });
});

describe('sluice run', () => {
  it('refuses a missing env var before starting anything; --chilled runs with ""', async () => {
    const dir = tempDir();
    const file = wordPipeline(dir);
    const refused = await runCli(['run', file, ...NO_HTTP]);
    expect(refused.stderr.split('\n')[0]).toBe(`${file}(1,1) required environment variables were not set: [SLUICE_CLI_TEST_WORD]`);
    expect(refused.stderr).not.toMatch(/Launching|connected/);
    expect(refused.code).toBe(1);

    const chilled = await runCli(['run', file, '--chilled', ...NO_HTTP]);
    expect(chilled.stderr.split('\n')[0]).toBe(`${file}(1,1) warning: required environment variables were not set: [SLUICE_CLI_TEST_WORD]`);
    expect(chilled.code).toBe(0);
    expect(readFileSync(join(dir, 'configured.jsonl'), 'utf8')).toBe('{"word":""}\n{"word":""}\n');
    expect(refused.stderr).toMatch(/use --chilled/);

    // Refused with --chilled for another reason: no hint to use the flag already given.
    const other = await runCli(['run', file, '--chilled', ...NO_HTTP, '-s', 'pipeline.threads=many']);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/pipeline\.threads: expected integer/);
    expect(other.stderr).not.toMatch(/--chilled/);
  });

  it('names the http.address setting when its port is taken', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const address = `127.0.0.1:${(taken.address() as AddressInfo).port}`;
    try {
      const { code, stderr } = await runCli(['run', wordPipeline(tempDir()), '--chilled', '-s', `http.address=${address}`]);
      expect(code).toBe(1);
      expect(stderr).toContain(`http.address ${address}: the address is already in use; set another address (-s http.address=`);
      expect(stderr).not.toMatch(/\n\s+at /);
    } finally {
      taken.close();
    }
  });

  it('-e sets variables from a dotenv file, overriding the process environment', async () => {
    const dir = tempDir();
    const env = tempFile('.env', '# words\nSLUICE_CLI_TEST_WORD="from file"\n', dir);
    const { code } = await runCli(['run', wordPipeline(dir), '-e', env, ...NO_HTTP], { SLUICE_CLI_TEST_WORD: 'from process' });
    expect(code).toBe(0);
    expect(readFileSync(join(dir, 'configured.jsonl'), 'utf8')).toBe('{"word":"from file"}\n{"word":"from file"}\n');
  });

  it('-e with a missing file is a usage error', async () => {
    const { code, stderr } = await runCli(['run', wordPipeline(tempDir()), '-e', '/nonexistent/.env']);
    expect(stderr).toMatch(/^cannot read env file: ENOENT/);
    expect(code).toBe(1);
  });

  it('-s overrides fields (values parsed as YAML)', async () => {
    const { code, stdout } = await runCli(['run', wordPipeline(tempDir()), ...NO_HTTP, '-s', 'input.generate.count=3', '-s', 'output={stdout: {}}'], {
      SLUICE_CLI_TEST_WORD: 'hi',
    });
    expect(code).toBe(0);
    expect(stdout).toBe('{"word":"hi"}\n'.repeat(3));
  });

  it('--output stdout|drop|file:PATH replaces the configured output', async () => {
    const env = { SLUICE_CLI_TEST_WORD: 'out' };
    const dir = tempDir();
    const file = wordPipeline(dir);

    const toStdout = await runCli(['run', file, ...NO_HTTP, '--output', 'stdout'], env);
    expect(toStdout.code).toBe(0);
    expect(toStdout.stdout).toBe('{"word":"out"}\n{"word":"out"}\n');

    const dropped = await runCli(['run', file, ...NO_HTTP, '--output', 'drop'], env);
    expect(dropped.code).toBe(0);
    expect(dropped.stdout).toBe('');

    const target = join(dir, 'elsewhere.jsonl');
    const toFile = await runCli(['run', file, ...NO_HTTP, '--output', `file:${target}`], env);
    expect(toFile.code).toBe(0);
    expect(readFileSync(target, 'utf8')).toBe('{"word":"out"}\n{"word":"out"}\n');

    // None of them wrote to the configured file.
    expect(() => readFileSync(join(dir, 'configured.jsonl'))).toThrow(/ENOENT/);

    const bad = await runCli(['run', file, '--output', 'kafka']);
    expect(bad.stderr).toMatch(/^--output takes stdout, drop or file:PATH/);
    expect(bad.code).toBe(1);
  });
});
