import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { testCommand } from '../../src/commands/test.js';
import { seededUuids } from '../../src/commands/determinism.js';

const FIXTURES = 'test/fixtures/tests';

/** Runs `sluice test` in-process and returns what it printed. */
async function sluiceTest(...args: string[]) {
  let out = '';
  let err = '';
  const code = await testCommand(args, {
    stdin: Readable.from([]),
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
  });
  return { code, out, err };
}

/** The report block of one test: its PASS/FAIL line and the indented lines under it. */
function block(out: string, name: string): string {
  const blocks = out.split(/\n(?=PASS |FAIL )/);
  const found = blocks.find((b) => b.split('\n')[0]!.endsWith(` ${name}`));
  if (!found) throw new Error(`no report for test "${name}" in:\n${out}`);
  return found;
}

describe('sluice test: passing tests', () => {
  let result: Awaited<ReturnType<typeof sluiceTest>>;
  beforeAll(async () => {
    result = await sluiceTest(`${FIXTURES}/runai.yaml`);
  });

  it('runs the sibling test file of a config and exits 0', () => {
    expect(result.err).toBe('');
    expect(result.code).toBe(0);
    expect(result.out.trimEnd().split('\n').at(-1)).toBe('8 passed, 0 failed');
  });

  it('names each test with its file and line', () => {
    expect(result.out).toContain(`PASS ${FIXTURES}/runai_sluice_test.yaml(2,5) maps a workload to a usage event\n`);
    expect(result.out).toContain(`PASS ${FIXTURES}/runai_sluice_test.yaml(71,5) mocks replace processors by label and by pointer\n`);
  });

  it('covers env, filtering, labels, pointers, golden files, mocks and seeded ids', () => {
    for (const name of [
      'the event source comes from the environment',
      'idle workloads are dropped',
      'one processor by label, every text condition',
      'one processor by pointer, in another file',
      'golden files',
      'the same seed gives the same ids, in order',
    ]) {
      expect(block(result.out, name)).toMatch(/^PASS /);
    }
  });

  it('restores the environment after a test that set it', () => {
    expect(process.env.EVENT_SOURCE).toBeUndefined();
  });

  it('runs inline tests, with and without an environment', async () => {
    const { code, out } = await sluiceTest(`${FIXTURES}/inline/pipeline.yaml`);
    expect(code).toBe(0);
    expect(out).toContain('PASS test/fixtures/tests/inline/pipeline.yaml(22,5) inline test with an environment');
    expect(out).toContain('2 passed, 0 failed');
    expect(process.env.MINUTES_PER_GPU).toBeUndefined();
  });

  it('runs a target_mapping file with frozen time and a seeded id', async () => {
    const { code, out } = await sluiceTest(`${FIXTURES}/mapping/to_event_sluice_test.yaml`);
    expect(out).toContain('PASS test/fixtures/tests/mapping/to_event_sluice_test.yaml(3,5) a frozen, seeded event');
    expect(code).toBe(0);
  });
});

describe('sluice test: failing tests show what differed', () => {
  let result: Awaited<ReturnType<typeof sluiceTest>>;
  const file = `${FIXTURES}/failing/failing_sluice_test.yaml`;
  beforeAll(async () => {
    result = await sluiceTest(`${FIXTURES}/failing/`);
  });

  it('exits 1 and counts every failure', () => {
    expect(result.code).toBe(1);
    expect(result.out.trimEnd().split('\n').at(-1)).toBe('0 passed, 14 failed');
  });

  it('content_equals: expected, received and the JSON differences', () => {
    const text = block(result.out, 'content_equals fails');
    expect(text).toContain(`FAIL ${file}(2,5) content_equals fails`);
    expect(text).toContain(`  ${file}(7,11) batch 0 message 0: content_equals failed`);
    expect(text).toContain('expected: {"subject":"job"}');
    expect(text).toMatch(/received: \{"subject":"job","gpuMinutes":1,/);
    expect(text).toContain('gpuMinutes: unexpected 1');
  });

  it('content_matches: the pattern and the content', () => {
    const text = block(result.out, 'content_matches fails');
    expect(text).toContain(`${file}(14,11) batch 0 message 0: content_matches failed`);
    expect(text).toContain('pattern:  "subject":"other"');
  });

  it('metadata_equals: each key that differs or is missing', () => {
    const text = block(result.out, 'metadata_equals fails');
    expect(text).toContain('scrape_interval: expected "1m0s", received "30s"');
    expect(text).toContain('resource_type: missing, expected "workload"');
  });

  it('json_equals: one line per differing path, then the received document', () => {
    const lines = block(result.out, 'json_equals fails').split('\n').map((l) => l.trim());
    expect(lines).toEqual([
      `FAIL ${file}(24,5) json_equals fails`,
      `${file}(30,11) batch 0 message 0: json_equals failed`,
      'gpuMinutes: expected 2, received 1',
      'cluster: missing, expected "c1"',
      'time: unexpected "2025-01-01T00:00:00.000Z"',
      'received: {"subject":"job","gpuMinutes":1,"source":"run_ai","time":"2025-01-01T00:00:00.000Z"}',
    ]);
  });

  it('json_contains: only the expected paths are compared', () => {
    const text = block(result.out, 'json_contains fails');
    expect(text).toContain('subject: expected "other", received "job"');
    expect(text).not.toContain('unexpected');
  });

  it('file_equals, file_json_equals and file_json_contains read files beside the test', () => {
    expect(block(result.out, 'file_equals fails')).toContain('expected: the content of expected.txt');
    const json = block(result.out, 'file_json_equals fails');
    // gpu 4 -> gpuMinutes 2 matches the file; only the extra `time` differs, so file_json_contains passes.
    expect(json).toContain('file_json_equals failed');
    expect(json).not.toContain('file_json_contains failed');
    expect(json).toMatch(/time: unexpected "/);
  });

  it('jsonata: what the expression returned', () => {
    expect(block(result.out, 'jsonata fails')).toContain('returned false, want true');
  });

  it('batch and message counts, with what was received', () => {
    const batches = block(result.out, 'wrong number of batches');
    expect(batches).toContain(`${file}(69,5) expected 2 output batches, received 1`);
    expect(batches).toMatch(/received batch 0 message 0: \{"subject":"job"/);
    const messages = block(result.out, 'wrong number of messages');
    expect(messages).toContain('batch 0: expected 1 message, received 2');
    expect(messages).toMatch(/received batch 0 message 1: \{"subject":"b"/);
  });

  it('blames an unset environment variable when a test fails', () => {
    const text = block(result.out, 'an unset variable is blamed');
    expect(text).toContain('source: expected "run_ai", received ""');
    expect(text).toContain('note: test/fixtures/tests/failing/failing.yaml(1,1) warning: required environment variables were not set: [EVENT_SOURCE]');
  });

  it('shows the error of a message a processor flagged as failed', () => {
    expect(block(result.out, 'a failed mapping is shown')).toContain(
      'note: a processor flagged this message as failed: mapping failed at line 3, column 40: The left side of the "*" operator must evaluate to a number (T2001)',
    );
  });

  it('reports mocks that match nothing or are invalid, at the mock', () => {
    expect(block(result.out, 'a mock that matches nothing')).toContain(
      `${file}(96,7) mock target "no_such_label" matches no processor in test/fixtures/tests/failing/failing.yaml`,
    );
    expect(block(result.out, 'an invalid mock')).toContain(`${file}(104,7) invalid mock: mapping.expresion: unknown field (did you mean expression?)`);
  });
});

describe('sluice test: invalid definitions', () => {
  it('reports every problem with file(line,col) and path, and runs nothing', async () => {
    const { code, out } = await sluiceTest(`${FIXTURES}/invalid/invalid_sluice_test.yaml`);
    const file = `${FIXTURES}/invalid/invalid_sluice_test.yaml`;
    expect(code).toBe(1);
    expect(out.split('\n').map((l) => l.trim())).toEqual([
      `FAIL ${file}: invalid test definitions`,
      `${file}(8,11) tests[0].output_batches[0][0].json_equal: unknown field (did you mean json_equals?)`,
      `${file}(10,5) tests[1]: set input_batch (one batch) or input_batches (a list of batches)`,
      `${file}(16,10) tests[2].now: invalid time "yesterday": expected RFC 3339 with a zone, such as 2025-01-01T00:00:00Z`,
      `${file}(19,23) tests[2].input_batch[0].json_content: set one of content, json_content or file_content, not content and json_content`,
      `${file}(21,28) tests[2].output_batches[0][0].content_matches: invalid regular expression: Invalid regular expression: /(unclosed/u: Unterminated group`,
      `${file}(22,20) tests[2].output_batches[0][0].jsonata: JSONata syntax error at line 1, column 3: Unexpected end of expression`,
      `${file}(24,5) tests[3].name: field is required`,
      `${file}(24,5) tests[3].nmae: unknown field (did you mean name?)`,
      `${file}(26,1) targets: unknown field`,
      '',
      '0 passed, 1 failed',
      '',
    ]);
  });

  it('points a syntax error in a target_mapping at its line and column in the .jsonata file', async () => {
    const { code, out } = await sluiceTest(`${FIXTURES}/mapping/broken_sluice_test.yaml`);
    expect(code).toBe(1);
    expect(out).toMatch(/\n {2}test\/fixtures\/tests\/mapping\/broken\.jsonata\(3,47\):? JSONata syntax error at line 3, column 47: Expected "\}", got "\]"\n/);
  });

  it('explains a test file with no config beside it', async () => {
    const { code, out } = await sluiceTest(`${FIXTURES}/orphan`);
    expect(code).toBe(1);
    expect(out).toContain('no config to test: test/fixtures/tests/orphan/orphan.yaml does not exist');
  });
});

describe('sluice test: paths', () => {
  it('finds tests in a directory, recursively, and with dir/...', async () => {
    const { out } = await sluiceTest(FIXTURES);
    expect(out).toContain('maps a workload to a usage event');
    expect(out).toContain('inline test with defaults');
    expect(out).toContain('a frozen, seeded event');
    expect((await sluiceTest(`${FIXTURES}/mapping/...`)).out).toContain('a frozen, seeded event');
    expect((await sluiceTest(`./${FIXTURES}/inline/`)).out).toContain('inline test with defaults');
  });

  it('expands globs', async () => {
    const { code, out } = await sluiceTest(`${FIXTURES}/**/to_*_test.yaml`);
    expect(code).toBe(0);
    expect(out).toContain('1 passed, 0 failed');
  });

  it('runs each test file once however often it is named', async () => {
    const { out } = await sluiceTest(`${FIXTURES}/runai.yaml`, `${FIXTURES}/runai_sluice_test.yaml`, `./${FIXTURES}/runai.yaml`);
    expect(out).toContain('8 passed, 0 failed');
  });

  it('fails on a path that does not exist, and when no test is found', async () => {
    const missing = await sluiceTest('no/such/dir');
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('no/such/dir: no such file or directory');
    const empty = mkdtempSync(join(tmpdir(), 'sluice-test-'));
    try {
      writeFileSync(join(empty, 'config.yaml'), 'input: { stdin: {} }\n');
      const none = await sluiceTest(empty);
      expect(none.code).toBe(1);
      expect(none.err).toContain('no tests found');
    } finally {
      rmSync(empty, { recursive: true });
    }
  });
});

describe('sluice test -r', () => {
  it("adds a resources file's resources to the config tested (a dedupe cache), as run -r does", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-test-r-'));
    try {
      writeFileSync(join(dir, 'resources.yaml'), 'cache_resources:\n  - label: seen\n    memory: {}\n');
      writeFileSync(join(dir, 'config.yaml'), "input: { stdin: {} }\npipeline:\n  processors:\n    - dedupe: { cache: seen, key: '${! id }' }\n");
      writeFileSync(
        join(dir, 'config_sluice_test.yaml'),
        `tests:
  - name: duplicates are dropped
    input_batch: [ { json_content: { id: 1 } }, { json_content: { id: 1 } }, { json_content: { id: 2 } } ]
    output_batches: [ [ { json_equals: { id: 1 } }, { json_equals: { id: 2 } } ] ]
`,
      );
      const withResources = await sluiceTest('-r', join(dir, 'resources.yaml'), dir);
      expect(withResources.out).toContain('1 passed, 0 failed');
      expect(withResources.code).toBe(0);
      // Without it, the cache is missing: the test fails, naming it.
      const without = await sluiceTest(dir);
      expect(without.out).toMatch(/cache resource 'seen' was not found/);
      expect(without.code).toBe(1);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});

describe('seeded ids', () => {
  it('are UUID v4 shaped, repeat for a seed and differ between seeds', () => {
    const a = seededUuids(1);
    const b = seededUuids(1);
    const first = [a(), a()];
    expect([b(), b()]).toEqual(first);
    expect(first[0]).not.toBe(first[1]);
    expect(first[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(seededUuids(2)()).not.toBe(first[0]);
  });
});

describe('the repository', () => {
  it('every example has tests, and they pass', async () => {
    const configs = readdirSync('examples').filter((f) => /\.ya?ml$/.test(f) && !/_sluice_test\.ya?ml$/.test(f));
    const { code, out } = await sluiceTest('examples');
    // Stream directories are searched too (the quickstart's input stream).
    expect(out).toContain('PASS examples/openmeter-quickstart/streams/input_sluice_test.yaml');
    for (const config of configs) {
      const sibling = `examples/${config.replace(/\.ya?ml$/, '_sluice_test.yaml')}`;
      expect(existsSync(sibling) || out.includes(`examples/${config}(`), `${config} has no tests`).toBe(true);
    }
    expect(out).not.toContain('FAIL ');
    expect(code).toBe(0);
  });

  it('every mapping under mappings/ has golden cases, and they pass', async () => {
    const files = readdirSync('mappings', { recursive: true, encoding: 'utf8' });
    for (const mapping of files.filter((f) => f.endsWith('.jsonata'))) {
      expect(files, `${mapping} has no golden cases`).toContain(mapping.replace(/\.jsonata$/, '_sluice_test.yaml'));
    }
    const { code, out } = await sluiceTest('mappings');
    expect(out).toMatch(/[1-9]\d* passed, 0 failed/);
    expect(out).not.toContain('FAIL ');
    expect(code).toBe(0);
  });
});

// Through the real CLI.
describe('node dist/cli.js test', () => {
  it('exits 0 with a summary when every test passes', () => {
    const run = spawnSync('node', ['dist/cli.js', 'test', `${FIXTURES}/runai.yaml`], { encoding: 'utf8' });
    expect(run.stdout).toContain('8 passed, 0 failed');
    expect(run.status).toBe(0);
  });

  it('exits 1 when a test fails', () => {
    const run = spawnSync('node', ['dist/cli.js', 'test', `${FIXTURES}/failing`], { encoding: 'utf8' });
    expect(run.stdout).toContain('0 passed, 14 failed');
    expect(run.status).toBe(1);
  });
});

describe('sluice test: default discovery', () => {
  it('at the repo root passes: directories named fixtures (failing on purpose) are skipped unless named', async () => {
    const root = await sluiceTest();
    expect(root.out).not.toContain('test/fixtures/');
    expect(root.out).toMatch(/PASS examples\//);
    expect(root.out).toMatch(/^\d+ passed, 0 failed$/m);
    expect(root.code).toBe(0);
    // Named, a fixtures folder is tested as before.
    const named = await sluiceTest(`${FIXTURES}/failing`);
    expect(named.out).toContain('FAIL test/fixtures/tests/failing/');
    expect(named.code).toBe(1);
  });
});
