// Resources as Redpanda Connect has them: `*_resources` lists in the config or in `-r` files (globs
// too), used by name with `resource: label` and http_client's `rate_limit: label`.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { registry } from '../../src/components/index.js';
import { formatProblem } from '../../src/config/problems.js';
import type { Cache, RateLimit } from '../../src/engine/component.js';
import { preparePipeline } from '../../src/service.js';
import { runCli } from '../support/cli.js';
import { withDefaults } from '../support/defaults.js';
import { testSettings } from '../support/settings.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Writes `files` into a fresh folder; returns its path. */
function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-resources-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const problems = (file: string, resources: string[] = []) => preparePipeline(file, { quiet: true, env: {}, resources }).problems.map(formatProblem);

describe('resources', () => {
  it('input, processor and output resources run where they are named', async () => {
    const dir = folder({
      'c.yaml': `
input: { resource: numbers }
pipeline:
  processors:
    - resource: double
    - resource: double
output: { resource: out }
input_resources:
  - label: numbers
    generate: { mapping: '{"n": 1}', count: 2, interval: "" }
processor_resources:
  - label: double
    mapping: '{"n": n * 2}'
output_resources:
  - label: out
    stdout: {}
`,
    });
    const { code, stdout, stderr } = await runCli(['run', join(dir, 'c.yaml')]);
    expect(stderr).not.toMatch(/level=(error|warn)/);
    expect(code).toBe(0);
    expect(stdout.trim().split('\n').map((l) => JSON.parse(l))).toEqual([{ n: 4 }, { n: 4 }]);
  });

  it('come from -r files too (repeatable, globs), which may hold nothing else', async () => {
    const dir = folder({
      'c.yaml': `
input: { generate: { mapping: '{"n": 1}', count: 1, interval: "" } }
pipeline: { processors: [ { resource: plus_one }, { resource: times_ten } ] }
output: { stdout: {} }
`,
      'res-a.yaml': `processor_resources: [ { label: plus_one, mapping: '{"n": n + 1}' } ]\n`,
      'res-b.yaml': `processor_resources: [ { label: times_ten, mapping: '{"n": n * 10}' } ]\n`,
      'bad.yaml': `input: { stdin: {} }\nprocessor_resources: []\n`,
    });
    const run = await runCli(['run', join(dir, 'c.yaml'), '-r', join(dir, 'res-a.yaml'), '--resources', join(dir, 'res-b.yaml')]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ n: 20 });
    expect(problems(join(dir, 'c.yaml'), [join(dir, 'res-*.yaml')])).toEqual([]);
    expect(problems(join(dir, 'c.yaml'), [join(dir, 'res-a.yaml'), join(dir, 'bad.yaml')])).toEqual([
      `${join(dir, 'bad.yaml')}(1,1) input: a resources file holds only *_resources lists`,
    ]);
  });

  it('a name no resource has, an unlabelled resource and a label used twice are reported where they are written', () => {
    const dir = folder({
      'c.yaml': `pipeline:
  processors:
    - resource: nope
processor_resources:
  - mapping: '$'
output:
  http_client: { url: "http://127.0.0.1:1", rate_limit: slow }
`,
      'res.yaml': `processor_resources:\n  - label: twice\n    mapping: '$'\n`,
      'res2.yaml': `processor_resources:\n  - label: twice\n    mapping: '$'\n`,
    });
    expect(problems(join(dir, 'c.yaml'))).toEqual([
      `${join(dir, 'c.yaml')}(5,5) processor_resources[0]: the label field for resources must be unique and not empty`,
    ]);
    const missing = folder({ 'c.yaml': `pipeline:\n  processors:\n    - resource: nope\noutput: { drop: {} }\n` });
    expect(problems(join(missing, 'c.yaml'))).toEqual([
      `${join(missing, 'c.yaml')}(3,17) pipeline.processors[0].resource: processor resource 'nope' was not found`,
    ]);
    const withLabels = folder({ 'c.yaml': `pipeline: { processors: [ { resource: twice } ] }\noutput: { http_client: { url: "http://127.0.0.1:1", rate_limit: slow } }\n` });
    expect(problems(join(withLabels, 'c.yaml'), [join(dir, 'res.yaml'), join(dir, 'res2.yaml')])).toEqual([
      `${join(dir, 'res2.yaml')}(2,12) processor_resources[0].label: label 'twice' collides with the processor resource in ${join(dir, 'res.yaml')}`,
      `${join(withLabels, 'c.yaml')}(2,65) output.http_client.rate_limit: rate limit resource 'slow' was not found`,
    ]);
  });

  it("a build problem in a -r file's resource is reported in that file", () => {
    const dir = folder({
      'c.yaml': `pipeline: { processors: [ { resource: broken } ] }\noutput: { drop: {} }\n`,
      'res.yaml': `processor_resources:\n  - label: fine\n    mapping: '$'\n  - label: broken\n    mapping: '{ "a": '\n`,
    });
    const found = problems(join(dir, 'c.yaml'), [join(dir, 'res.yaml')]);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(new RegExp(`^${join(dir, 'res.yaml').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\(5,\\d+\\) processor_resources\\[1\\]\\.mapping: `));
  });

  it("http_client takes every attempt's token from the rate_limit resource it names", async () => {
    const sink = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end());
    });
    await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
    try {
      const dir = folder({
        'c.yaml': `
input: { generate: { mapping: '{"n": 1}', count: 5, interval: "" } }
output:
  http_client: { url: "http://127.0.0.1:${(sink.address() as AddressInfo).port}/", rate_limit: shared }
rate_limit_resources:
  - label: shared
    local: { count: 1000, interval: 1s }
http: { enabled: false }
`,
      });
      const prepared = preparePipeline(join(dir, 'c.yaml'), { quiet: true, env: {} });
      expect(prepared.problems).toEqual([]);
      await prepared.ready!.pipeline.run(new AbortController().signal);
      const checked = (await prepared.ready!.metrics.registry.getSingleMetric('rate_limit_checked')!.get()).values;
      expect(checked).toEqual([{ labels: { label: 'shared', path: 'rate_limit_resources[0]' }, value: 5 }]);
    } finally {
      sink.closeAllConnections();
      sink.close();
    }
  });

  it('the local rate limit lets count accesses through per interval, the next waiting for the next window', async () => {
    const spec = registry.get('rate_limit', 'local')!;
    const limit = spec.create(withDefaults(spec, { count: 2, interval: '300ms' }), testSettings()) as RateLimit;
    const signal = new AbortController().signal;
    const waited: boolean[] = [];
    const at: number[] = [];
    for (let i = 0; i < 5; i++) {
      waited.push(await limit.access(signal));
      at.push(performance.now());
    }
    expect(waited).toEqual([false, false, true, false, true]);
    // The window opened by the first access: the 3rd waits until 300ms after it, the 5th 600ms.
    expect(at[2]! - at[0]!).toBeGreaterThanOrEqual(295);
    expect(at[4]! - at[0]!).toBeGreaterThanOrEqual(595);
    await limit.close();
  });

  it("cache_resources: OpenMeter's quickstart dedupe-cache file loads as a -r file", () => {
    const fixture = fileURLToPath(new URL('../fixtures/openmeter/quickstart_dedupe-cache.yaml', import.meta.url));
    const dir = folder({ 'c.yaml': 'output: { drop: {} }\n' });
    expect(problems(join(dir, 'c.yaml'), [fixture])).toEqual([]);
  });

  it('the memory cache keeps a key until its time to live, and add() refuses a present key', async () => {
    const spec = registry.get('cache', 'memory')!;
    const cache = spec.create(withDefaults(spec, { default_ttl: '80ms', init_values: { seed: 'x' } }), testSettings()) as Cache;
    const bytes = (text: string) => new TextEncoder().encode(text);
    expect(await cache.add('k', bytes('1'))).toBe(true);
    expect(await cache.add('k', bytes('2'))).toBe(false);
    expect(new TextDecoder().decode(await cache.get('k'))).toBe('1');
    await cache.set('short', bytes('s'), 1);
    const started = Date.now();
    while ((await cache.get('k')) !== undefined) {
      expect(Date.now() - started).toBeLessThan(2000);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(Date.now() - started).toBeGreaterThanOrEqual(60);
    expect(await cache.get('short')).toBeUndefined();
    expect(new TextDecoder().decode(await cache.get('seed'))).toBe('x');
    expect(await cache.add('k', bytes('3'))).toBe(true);
    await cache.close();
  });
});
