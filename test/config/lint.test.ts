// `sluice lint` through the real CLI: every bad fixture prints exactly the lines expected, with
// line and column computed here from the fixture's own text.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { WORKLOAD_METRIC_TYPES } from '../../src/runai/api.js';
import { runCli } from '../support/cli.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIR = relative(process.cwd(), join(ROOT, 'test/fixtures/lint')) || '.';
const fixture = (name: string) => join(DIR, name);
const text = (name: string) => readFileSync(join(ROOT, 'test/fixtures/lint', name), 'utf8');

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** The line of the first `needle` in fixture `name`. */
const line = (name: string, needle: string): string => at(name, needle).split(',')[0]!;

/** `line,col` (1-based) of the `nth` occurrence of `needle` in the fixture. */
function at(name: string, needle: string, nth = 1): string {
  const source = text(name);
  let offset = -1;
  for (let i = 0; i < nth; i++) {
    offset = source.indexOf(needle, offset + 1);
    if (offset === -1) throw new Error(`${needle} occurs fewer than ${nth} times in ${name}`);
  }
  const before = source.slice(0, offset).split('\n');
  return `${before.length},${before.at(-1)!.length + 1}`;
}

const lint = (...args: string[]) => runCli(['lint', ...args]);
const LEVELS = '"FATAL", "ERROR", "WARN", "INFO", "DEBUG", "TRACE", "ALL"';
const WORKLOAD_TYPES = WORKLOAD_METRIC_TYPES.join(', ');
const DURATION_HINT = '(expected e.g. 30s, 1m0s, 100ms, 1h2m3s)';

const ONE_LINE_CASES: [string, (f: string, name: string) => string[]][] = [
  ['unknown-field.yaml', (f, n) => [`${f}(${at(n, 'codc')}) output.stdout.codc: unknown field (did you mean codec?)`]],
  [
    'unknown-component.yaml',
    (f, n) => [`${f}(${at(n, 'mappin:')}) pipeline.processors[0].mappin: unknown processor "mappin" (did you mean mapping?)`],
  ],
  ['wrong-type.yaml', (f, n) => [`${f}(${at(n, 'three')}) input.generate.count: expected integer, got string "three"`]],
  ['bad-duration.yaml', (f, n) => [`${f}(${at(n, '5 minutes')}) shutdown_timeout: invalid duration "5 minutes" ${DURATION_HINT}`]],
  // A number where a duration is expected: the unit is what is missing.
  ['duration-number.yaml', (f, n) => [`${f}(${at(n, '5\n')}) shutdown_timeout: expected a duration such as "5s", got number 5`]],
  [
    'enum.yaml',
    (f, n) => [`${f}(${at(n, 'WARM')}) pipeline.processors[0].log.level: "WARM" is not one of ${LEVELS} (did you mean WARN?)`],
  ],
  ['missing-env.yaml', (f, n) => [`${f}(1,1) required environment variables were not set: [SLUICE_LINT_TEST_UNSET_DIR]`]],
  // The value of a compact mapping cannot itself be a mapping: the error is where it starts.
  ['yaml-syntax.yaml', (f, n) => [`${f}(${at(n, 'root: this')}) YAML syntax error: Nested mappings are not allowed in compact mappings`]],
  [
    'duplicate-label.yaml',
    (f, n) => [`${f}(${at(n, 'enrich', 2)}) pipeline.processors[1].label: label 'enrich' collides with the label at pipeline.processors[0]`],
  ],
  // A batching policy is checked when the output is built: processors need a trigger to run on.
  [
    'batching-no-trigger.yaml',
    (f, n) => [
      `${f}(${at(n, 'processors')}) output.drop.batching: batch policy must have at least one active trigger (count, byte_size, period or check)`,
    ],
  ],
  [
    'wrong-values.yaml',
    (f, n) => [
      `${f}(${at(n, '-30s')}) input.run_ai.metrics_offset: must not be negative, got -30s`,
      `${f}(${at(n, '100000000')}) pipeline.threads: must be <= 1024`,
      `${f}(${at(n, '-1s')}) output.http_client.timeout: must not be negative, got -1s`,
      `${f}(${at(n, '1e400')}) output.http_client.batching.count: expected integer, got number Infinity (too large to represent)`,
      `${f}(${at(n, '-5s')}) output.http_client.batching.period: must not be negative, got -5s`,
      `${f}(${at(n, '-1s', 2)}) shutdown_timeout: must not be negative, got -1s`,
    ],
  ],
  [
    'run-ai-build.yaml',
    (f, n) => [
      `${f}(${at(n, 'ftp:')}) input.run_ai.url: url "ftp://myorg.run.ai" must use http or https`,
      `${f}(${at(n, 'GPU_UTILIZATION_PER_GPU')}) input.run_ai.metrics[1]: GPU_UTILIZATION_PER_GPU is not a workload metric type (workload types: ${WORKLOAD_TYPES})`,
      `${f}(${at(n, '10s')}) input.run_ai.state.max_backfill: 10s is shorter than one window of the schedule (30s): every window would be given up as a gap`,
      // Absent (its default applies): located at the object that holds it.
      `${f}(${at(n, '{ timeout')}) input.run_ai.http.retry_max_wait_time: 1s is shorter than http.retry_wait_time (2s)`,
      `${f}(${at(n, '0s,')}) input.run_ai.http.timeout: must be positive, got 0s`,
    ],
  ],
  // Raw control bytes from the file are written escaped: they cannot drive the terminal.
  ['binary.yaml', (f) => [`${f}(4,3) output.\\x01\\x02\\x1b[31mred: unknown output "\\x01\\x02\\x1b[31mred"`]],
];

describe('sluice lint', () => {
  // One lint run over every fixture below (a process each would cost half a second of CPU apiece):
  // each file's lines are its own, in file order.
  let all: Awaited<ReturnType<typeof lint>>;
  beforeAll(async () => {
    all = await lint(...ONE_LINE_CASES.map(([name]) => fixture(name)));
  });

  it('exits 1 when any file has an error, printing nothing on stdout and no line of no file', () => {
    expect(all.code).toBe(1);
    expect(all.stdout).toBe('');
    const files = ONE_LINE_CASES.map(([name]) => fixture(name));
    expect(all.stderr.split('\n').filter((l) => l !== '' && !files.some((f) => l.startsWith(`${f}(`)))).toEqual([]);
  });

  it.each(ONE_LINE_CASES)('%s: one line per problem', (name, expected) => {
    const file = fixture(name);
    const mine = all.stderr.split('\n').filter((l) => l.startsWith(`${file}(`));
    expect(mine).toEqual(expected(file, name));
  });

  it('locates a JSONata syntax error inside a `mapping: |` block at its line and column in the file', async () => {
    const name = 'jsonata-syntax.yaml';
    const file = fixture(name);
    // Inside the mapping, lines count from the one after `|` and columns from the block's indentation.
    const [blockLine] = at(name, 'mapping: |').split(',').map(Number);
    const [line, column] = at(name, '**').split(',').map(Number);
    const indent = /\n( *)\{\n/.exec(text(name))![1]!.length;
    const inner = `line ${line! - blockLine!}, column ${column! - indent}`;
    expect(inner).toBe('line 3, column 18');
    const { code, stderr } = await lint(file);
    expect(stderr).toBe(`${file}(${line},${column}) pipeline.processors[0].mapping: JSONata syntax error at ${inner}: Expected "}", got "**"\n`);
    expect(code).toBe(1);
  });

  it('reports every problem of a file in one pass, sorted by line', async () => {
    const name = 'many-problems.yaml';
    const f = fixture(name);
    const { code, stderr } = await lint(f);
    expect(stderr.split('\n')).toEqual([
      `${f}(1,1) required environment variables were not set: [SLUICE_LINT_TEST_UNSET_A]`,
      `${f}(${at(name, 'csv')}) output.stdout.codec: "csv" is not one of "lines", "append", "all-bytes", "delim:X"`,
      // Problems only building finds (JSONata syntax) come in the same pass as the schema's.
      expect.stringMatching(new RegExp(`^${escape(f)}\\(${line(name, 'size >')},\\d+\\) output\\.stdout\\.batching\\.check: JSONata syntax error at line 1, column \\d+: `)),
      `${f}(${at(name, 'many')}) pipeline.threads: expected integer, got string "many"`,
      `${f}(${at(name, 'Bad-Label')}) pipeline.processors[0].label: label must be lower case letters, digits, _ and -, not starting with _ or -`,
      // A missing field is located at the object that lacks it.
      `${f}(${at(name, '{}')}) pipeline.processors[1].archive.format: field is required`,
      expect.stringMatching(new RegExp(`^${escape(f)}\\(${line(name, '"gpu"')},\\d+\\) pipeline\\.processors\\[2\\]\\.mapping: JSONata syntax error at line 1, column \\d+: `)),
      `${f}(${at(name, 'cout')}) input.generate.cout: unknown field (did you mean count?)`,
      `${f}(${at(name, 'loggr')}) loggr: unknown field (did you mean logger?)`,
      '',
    ]);
    expect(code).toBe(1);
  });

  it('--skip-env-var-check turns a missing variable into a warning and exits 0', async () => {
    const file = fixture('missing-env.yaml');
    const { code, stderr } = await lint('--skip-env-var-check', file);
    expect(stderr).toBe(`${file}(1,1) warning: required environment variables were not set: [SLUICE_LINT_TEST_UNSET_DIR]\n`);
    expect(code).toBe(0);
  });

  it('a set variable satisfies the check', async () => {
    const { code, stderr } = await runCli(['lint', fixture('missing-env.yaml')], { SLUICE_LINT_TEST_UNSET_DIR: '/tmp' });
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  it('exits 0 silently on good files, including every example', async () => {
    const examples = join(relative(process.cwd(), ROOT) || '.', 'examples');
    const credentials = { RUNAI_URL: 'https://myorg.run.ai', RUNAI_APP_ID: 'app', RUNAI_APP_SECRET: 'secret', OPENMETER_TOKEN: 'om_token' };
    // The quickstart's streams name the cache of its resources file (linted too, as a file of examples/).
    const resources = join(examples, 'openmeter-quickstart/resources/dedupe-cache.yaml');
    const { code, stdout, stderr } = await runCli(['lint', '-r', resources, fixture('good.yaml'), fixture('batching-count-one.yaml'), examples], credentials);
    expect(stderr).toBe('');
    expect(stdout).toBe('');
    expect(code).toBe(0);
  });

  it("reads OpenMeter's published layout (output beside drop_on) as drop_on's output, with a warning", async () => {
    const name = 'drop-on-sibling-output.yaml';
    const f = fixture(name);
    const { code, stderr } = await lint(f);
    expect(stderr).toBe(`${f}(${at(name, 'output:\n    http_client')}) output.output: warning: read as drop_on.output; indent it under drop_on\n`);
    expect(code).toBe(0);
  });

  it('lints several files in one run and fails if any fails', async () => {
    const good = fixture('good.yaml');
    const bad = fixture('wrong-type.yaml');
    const { code, stderr } = await lint(good, bad);
    expect(stderr).toBe(`${bad}(${at('wrong-type.yaml', 'three')}) input.generate.count: expected integer, got string "three"\n`);
    expect(code).toBe(1);
  });

  it('lints only *.yaml and *.yml in a directory, naming the files it skipped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-lint-dir-'));
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'pipeline.yml'), readFileSync(join(ROOT, 'test/fixtures/lint/good.yaml')));
    writeFileSync(join(dir, 'blob.bin'), Buffer.from([0, 1, 2, 255, 27, 91, 50, 74]));
    writeFileSync(join(dir, 'sub', 'notes.txt'), 'not a config\n');
    writeFileSync(join(dir, 'sub', 'pipeline_sluice_test.yaml'), 'tests: []\n');
    // A config's data (a json_schema's schema file) is not a skipped config.
    writeFileSync(join(dir, 'sub', 'schema.json'), '{}\n');
    const { code, stderr } = await lint(dir);
    expect(stderr).toBe(`${dir}: skipped 2 file(s) that are not config files (*.yaml, *.yml): ${join(dir, 'blob.bin')}, ${join(dir, 'sub', 'notes.txt')}\n`);
    expect(code).toBe(0);
  });

  it('warns (exit 0) when a default holds another variable’s reference, which is not interpolated', async () => {
    const file = fixture('literal-default.yaml');
    const { code, stderr } = await lint(file);
    expect(stderr).toBe(
      `${file}(${at('literal-default.yaml', '${SLUICE')}) warning: \${SLUICE_LINT_TEST_UNSET_A:\${SLUICE_LINT_TEST_UNSET_B}}: its default is used as written; \${SLUICE_LINT_TEST_UNSET_B} inside a default is not interpolated (as in Redpanda Connect)\n`,
    );
    expect(code).toBe(0);
  });

  it('refuses a file past the config size limit without reading it all (/dev/zero)', async () => {
    const { code, stderr } = await lint('/dev/zero');
    expect(stderr).toBe('/dev/zero(1,1) failed to read config: the file is larger than 4 MB, the most a config may be\n');
    expect(code).toBe(1);
  });

  it('reports a file it cannot read as a problem of that file', async () => {
    const missing = fixture('does-not-exist.yaml');
    const { code, stderr } = await lint(missing);
    expect(stderr).toMatch(new RegExp(`^${missing.replace(/[.]/g, '\\.')}\\(1,1\\) failed to read config: ENOENT`));
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(code).toBe(1);
  });
});

// `run` lints the same way before it starts anything; --set and --chilled change the verdict.
describe('sluice run: lint before start', () => {
  const NO_HTTP = ['-s', 'http.enabled=false'];

  it('refuses to start on a lint error, printing the same line', async () => {
    const name = 'bad-duration.yaml';
    const file = fixture(name);
    const { code, stdout, stderr } = await runCli(['run', file, ...NO_HTTP]);
    expect(stderr.split('\n')[0]).toBe(`${file}(${at(name, '5 minutes')}) shutdown_timeout: invalid duration "5 minutes" ${DURATION_HINT}`);
    expect(stderr).toMatch(/shutting down due to config errors/);
    expect(stderr).not.toMatch(/Launching/);
    expect(stdout).toBe('');
    expect(code).toBe(1);
  });

  it('--set replaces the bad value before validation, and the pipeline runs', async () => {
    const { code, stderr } = await runCli(['run', fixture('bad-duration.yaml'), ...NO_HTTP, '-s', 'shutdown_timeout=5m']);
    expect(stderr).not.toMatch(/invalid duration/);
    expect(stderr).toMatch(/Pipeline has terminated/);
    expect(code).toBe(0);
  });

  it('a bad --set value is reported with its path', async () => {
    const name = 'good.yaml';
    const file = fixture(name);
    const { code, stderr } = await runCli(['run', file, '-s', 'input.generate.count=many']);
    // The replaced node has no place in the file: the problem points at its parent, `generate:`'s block.
    expect(stderr.split('\n')[0]).toBe(`${file}(${at(name, 'mapping')}) input.generate.count: expected integer, got string "many"`);
    expect(code).toBe(1);
  });

  it('a malformed --set is a problem, not a crash', async () => {
    const file = fixture('good.yaml');
    for (const set of ['nothing', '=1', 'http.enabled=', 'input.generate.mapping.deeper=1']) {
      const { code, stderr } = await runCli(['run', file, '-s', set]);
      expect(stderr.split('\n')[0]).toMatch(new RegExp(`^${file.replace(/[.]/g, '\\.')}\\(1,1\\) invalid set expression '${set.replace(/[.]/g, '\\.')}'`));
      expect(code).toBe(1);
    }
  });

  it('refuses a missing variable without --chilled, runs with it', async () => {
    const file = fixture('missing-env.yaml');
    const refused = await runCli(['run', file, ...NO_HTTP]);
    expect(refused.stderr.split('\n')[0]).toBe(`${file}(1,1) required environment variables were not set: [SLUICE_LINT_TEST_UNSET_DIR]`);
    expect(refused.stderr).toMatch(/to run despite unset environment variables use --chilled/);
    expect(refused.code).toBe(1);

    // The output path becomes `/out.jsonl`, so write to a file we can throw away instead.
    const chilled = await runCli(['run', file, '--chilled', ...NO_HTTP, '--output', 'drop']);
    expect(chilled.stderr.split('\n')[0]).toBe(`${file}(1,1) warning: required environment variables were not set: [SLUICE_LINT_TEST_UNSET_DIR]`);
    expect(chilled.stderr).toMatch(/Pipeline has terminated/);
    expect(chilled.code).toBe(0);
  });
});
