import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { mapCommand } from '../../src/commands/map.js';
import { waitUntil } from '../support/wait.js';

const FIXTURES = 'test/fixtures/map';
const RUNAI_META = ['--meta', 'scrape_interval=30s', '--meta', 'resource_type=workload'];

/** Runs `sluice map` in-process with `stdin` as its standard input; returns what it printed. */
async function sluiceMap(args: string[], stdin = '', signal?: AbortSignal) {
  let out = '';
  let err = '';
  const code = await mapCommand(args, {
    stdin: Readable.from(stdin === '' ? [] : [stdin]),
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    signal,
  });
  return { code, out, err };
}

describe('sluice map', () => {
  it('maps a Run:ai workload to a usage event, with frozen time and seeded ids', async () => {
    const args = [`${FIXTURES}/event.jsonata`, ...RUNAI_META, '--now', '2025-01-01T12:00:30Z', '--uuid-seed', '1', `${FIXTURES}/workload.json`];
    const first = await sluiceMap(args);
    expect(first.err).toBe('');
    expect(first.code).toBe(0);
    expect(JSON.parse(first.out)).toEqual({
      id: '4fbdeaf1-5235-42f0-8b9d-d3eec012149b',
      specversion: '1.0',
      type: 'workload',
      source: 'run_ai',
      time: '2025-01-01T12:00:30.000Z',
      subject: 'very-important-job',
      data: {
        tenant: 1001,
        project: '1',
        department: '1',
        cluster: '71f69d83-ba66-4822-adf5-55ce55efd210',
        type: 'runai-job',
        gpuAllocationMinutes: 0.75,
        cpuLimitCoreMinutes: 48,
      },
    });
    expect((await sluiceMap(args)).out).toBe(first.out);
  });

  it('prints one line of compact JSON per result, or indented JSON with --pretty', async () => {
    const compact = await sluiceMap(['-e', '{"a": [1, 2]}', `${FIXTURES}/workload.json`]);
    expect(compact.out).toBe('{"a":[1,2]}\n');
    const pretty = await sluiceMap(['-e', '{"a": [1, 2]}', '--pretty', `${FIXTURES}/workload.json`]);
    expect(pretty.out).toBe('{\n  "a": [\n    1,\n    2\n  ]\n}\n');
  });

  it('maps JSON lines from stdin, one result per line, blank lines skipped', async () => {
    const { code, out } = await sluiceMap(['-e', 'name & ":" & $meta("k")', '--meta', 'k=v'], '{"name":"a"}\n\n{"name":"b"}\n');
    expect(code).toBe(0);
    expect(out).toBe('"a:v"\n"b:v"\n');
  });

  it('treats - as stdin and a .jsonl file as JSON lines', async () => {
    expect((await sluiceMap(['-e', 'name', '-'], '{"name":"x"}\n')).out).toBe('"x"\n');
    expect((await sluiceMap(['-e', 'allocatedResources.gpu', `${FIXTURES}/workloads.jsonl`])).out).toBe('1\n2\n');
  });

  it('prints nothing for a message the mapping deletes, and says so', async () => {
    const { code, out, err } = await sluiceMap(['-e', 'name = "a" ? $deleted() : name'], '{"name":"a"}\n{"name":"b"}\n');
    expect(code).toBe(0);
    expect(out).toBe('"b"\n');
    expect(err).toBe('stdin:1: deleted by the mapping ($deleted())\n');
  });

  it('reports a syntax error with the file, line and column, and the offending line', async () => {
    const { code, out, err } = await sluiceMap([`${FIXTURES}/bad.jsonata`, `${FIXTURES}/workload.json`]);
    expect(code).toBe(1);
    expect(out).toBe('');
    expect(err).toBe(
      `${FIXTURES}/bad.jsonata(3,75) JSONata syntax error at line 3, column 75: Expected "}", got "]"\n` +
        '  3 |   { "subject": name, "gpuMinutes": allocatedResources.gpu * $seconds / 60 ]\n' +
        `    | ${' '.repeat(74)}^\n`,
    );
  });

  it('reports a syntax error in -e against the expression', async () => {
    const { code, err } = await sluiceMap(['-e', '{"a": }'], '{}\n');
    expect(code).toBe(1);
    expect(err).toMatch(/^expression\(1,7\) JSONata syntax error at line 1, column 7/);
  });

  it('reports an evaluation error with its position and input line, goes on, and exits 1', async () => {
    const input = '{"name":"a","allocatedResources":{"gpu":1}}\n{"name":"b","allocatedResources":{"gpu":"lots"}}\nnot json\n{"name":"c","allocatedResources":{"gpu":3}}\n';
    const { code, out, err } = await sluiceMap([`${FIXTURES}/fails.jsonata`], input);
    expect(code).toBe(1);
    expect(out).toBe('{"subject":"a","gpuMinutes":2}\n{"subject":"c","gpuMinutes":6}\n');
    const lines = err.trimEnd().split('\n');
    expect(lines[0]).toBe(
      `${FIXTURES}/fails.jsonata(3,40) stdin:2: mapping failed at line 3, column 40: The left side of the "*" operator must evaluate to a number (T2001)`,
    );
    expect(lines[1]).toMatch(/^stdin:3: not JSON: /);
  });

  it('rejects bad usage with a message and the usage text', async () => {
    for (const args of [[], ['--meta', 'novalue', '-e', '1'], ['-e', '1', '--watch'], ['a.jsonata', 'b.json', 'c.json'], ['--nope'], ['-e', '1', '--now', 'yesterday']]) {
      const { code, err } = await sluiceMap(args);
      expect(code).toBe(1);
      expect(err).toContain('Usage: sluice map');
    }
  });

  it('reports a missing input file', async () => {
    const { code, err } = await sluiceMap(['-e', '1', 'no/such.json']);
    expect(code).toBe(1);
    expect(err).toMatch(/^cannot read input: .*no\/such\.json/);
  });
});

describe('sluice map --watch', () => {
  it('runs at once, re-runs on every save of the mapping, and stops on abort', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-map-'));
    const mapping = join(dir, 'm.jsonata');
    writeFileSync(mapping, 'name');
    copyFileSync(`${FIXTURES}/workload.json`, join(dir, 'in.json'));
    const stop = new AbortController();
    let out = '';
    let err = '';
    try {
      const done = mapCommand(['--watch', mapping, join(dir, 'in.json')], {
        stdin: Readable.from([]),
        stdout: { write: (s: string) => (out += s) },
        stderr: { write: (s: string) => (err += s) },
        signal: stop.signal,
      });
      await waitUntil('the watch to start', () => err.includes('watching'));
      expect(out).toBe('"very-important-job"\n');
      writeFileSync(mapping, 'id');
      await waitUntil('the re-run on the first save', () => out.includes('497f6eca'));
      writeFileSync(mapping, '{ "broken": ');
      await waitUntil('the syntax error reported', () => err.includes('JSONata syntax error'));
      writeFileSync(mapping, 'tenantId');
      await waitUntil('the re-run after the fix', () => out.endsWith('1001\n'));
      stop.abort();
      expect(await done).toBe(0);
      expect(out).toBe('"very-important-job"\n"497f6eca-6276-4993-bfeb-53cbbbba6f08"\n1001\n');
    } finally {
      stop.abort();
      rmSync(dir, { recursive: true });
    }
  });
});

// Through the real CLI.
describe('node dist/cli.js map', () => {
  it('maps JSON lines from stdin', () => {
    const run = spawnSync('node', ['dist/cli.js', 'map', '-e', 'name'], { input: '{"name":"a"}\n{"name":"b"}\n', encoding: 'utf8' });
    expect(run.stdout).toBe('"a"\n"b"\n');
    expect(run.status).toBe(0);
  });

  it('exits 1 on a syntax error', () => {
    const run = spawnSync('node', ['dist/cli.js', 'map', `${FIXTURES}/bad.jsonata`, `${FIXTURES}/workload.json`], { encoding: 'utf8' });
    expect(run.stderr).toContain('bad.jsonata(3,75)');
    expect(run.status).toBe(1);
  });
});
