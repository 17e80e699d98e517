// dedupe with a memory cache resource, and $hash (shared with Bloblang's .hash()).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import memory from '../../../src/components/caches/memory.js';
import dedupeSpec from '../../../src/components/processors/dedupe.js';
import { formatProblem } from '../../../src/config/problems.js';
import type { Cache } from '../../../src/engine/component.js';
import { compileInterpolation } from '../../../src/mapping/interpolation.js';
import { preparePipelineText } from '../../../src/service.js';
import { withDefaults } from '../../support/defaults.js';
import { testSettings } from '../../support/settings.js';
import { waitFor } from '../../support/wait.js';
import { Message } from '../../../src/engine/message.js';
import { hash } from '../../../src/mapping/hash.js';
import { memoryComponents, memoryState } from '../../support/memory.js';
import { pipelineFromYaml } from '../../support/pipeline.js';

async function run(yaml: string, batches: unknown[][]) {
  const state = memoryState(batches);
  const { pipeline } = pipelineFromYaml(`input: { memory: {} }\noutput: { memory: {} }\n${yaml}`, memoryComponents(state.input, state.output));
  await pipeline.run(new AbortController().signal);
  return { out: state.output.writes.flat(), acks: state.input.acks };
}

const withCache = (processors: string, cache = '{}') => `
cache_resources:
  - label: seen
    memory: ${cache}
pipeline:
  threads: 1
  processors:
${processors}
`;

describe('dedupe', () => {
  it('forwards each key once (within and across batches), in order; duplicates are acked', async () => {
    const { out, acks } = await run(withCache(`    - dedupe: { cache: seen, key: '\${! id }' }`), [
      [{ id: 'a', n: 1 }, { id: 'b', n: 2 }, { id: 'a', n: 3 }],
      [{ id: 'b', n: 4 }],
      [{ id: 'c', n: 5 }],
    ]);
    expect(out.map((m) => m.json())).toEqual([{ id: 'a', n: 1 }, { id: 'b', n: 2 }, { id: 'c', n: 5 }]);
    expect(acks).toEqual(['ok', 'ok', 'ok']);
  });

  it('forwards exactly the first occurrence of every key (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 5 }), { maxLength: 6 }), async (batches) => {
        const { out } = await run(withCache(`    - dedupe: { cache: seen, key: '\${! $string(k) }' }`), batches.map((b) => b.map((k, i) => ({ k, i }))));
        const all = batches.flatMap((b) => b.map((k, i) => ({ k, i })));
        const firsts = all.filter((m, j) => all.findIndex((o) => o.k === m.k) === j);
        expect(out.map((m) => m.json())).toEqual(firsts);
      }),
      { numRuns: 12 },
    );
  });

  it("keys by the quickstart's content().hash(\"xxhash64\") and by $hash($content(), \"xxhash64\") alike", async () => {
    // The second dedupe sees only keys the first one added: every message is then a duplicate.
    const { out } = await run(
      withCache(`    - dedupe: { cache: seen, key: '\${! content().hash("xxhash64") }', drop_on_err: false }
    - dedupe: { cache: seen, key: '\${! $hash($content(), "xxhash64") }' }`),
      [[{ id: 1 }, { id: 2 }, { id: 1 }]],
    );
    expect(out).toEqual([]);
    const first = await run(withCache(`    - dedupe: { cache: seen, key: '\${! content().hash("xxhash64") }' }`), [[{ id: 1 }, { id: 2 }, { id: 1 }]]);
    expect(first.out.map((m) => m.json())).toEqual([{ id: 1 }, { id: 2 }]);
  });

  it('a key seen after the time to live passes again', async () => {
    const cache = memory.create(withDefaults(memory, { default_ttl: '20ms' }), testSettings()) as Cache;
    const settings = testSettings({ build: { ...testSettings().build, resource: () => cache as never } });
    const dedupe = dedupeSpec.create(withDefaults(dedupeSpec, { cache: 'seen', key: '${! id }' }), settings);
    const once = async () => ((await dedupe.process([Message.fromJSON({ id: 'a' })])) as Message[][]).flat().length;
    const started = Date.now();
    expect(await once()).toBe(1);
    expect(await once()).toBe(Date.now() - started < 20 ? 0 : 1);
    await waitFor('the time to live to pass', () => (Date.now() - started > 25 ? true : undefined));
    expect(await once()).toBe(1);
    expect(await once()).toBe(0);
  });

  it("a key among the cache's init_values counts as seen", async () => {
    const { out } = await run(withCache(`    - dedupe: { cache: seen, key: '\${! id }' }`, '{ init_values: { known: "t" } }'), [[{ id: 'known' }, { id: 'new' }]]);
    expect(out.map((m) => m.json())).toEqual([{ id: 'new' }]);
  });

  it('drop_on_err: true drops a message whose key fails; false passes it on flagged', async () => {
    const failing = `'\${! $error("no key") }'`;
    const dropped = await run(withCache(`    - dedupe: { cache: seen, key: ${failing} }`), [[{ id: 1 }]]);
    expect(dropped.out).toEqual([]);
    expect(dropped.acks).toEqual(['ok']);
    const kept = await run(withCache(`    - dedupe: { cache: seen, key: ${failing}, drop_on_err: false }`), [[{ id: 1 }]]);
    expect(kept.out.map((m) => [m.json(), m.error?.message])).toEqual([[{ id: 1 }, expect.stringMatching(/no key/)]]);
  });

  it('a missing cache resource is a config error at the field', () => {
    const yaml = `input: { generate: { mapping: '1', count: 1 } }\npipeline: { processors: [ { dedupe: { cache: nope, key: x } } ] }\noutput: { drop: {} }\n`;
    const { problems } = preparePipelineText(yaml, 'c.yaml', { quiet: true, env: {} });
    expect(problems.map(formatProblem)).toContainEqual(expect.stringMatching(/^c\.yaml\(2,\d+\) pipeline\.processors\[0\]\.dedupe\.cache: .*nope/));
  });
});

describe('$hash', () => {
  const xx = (s: string) => new TextDecoder().decode(hash(new TextEncoder().encode(s), 'xxhash64'));

  it('xxhash64 gives the decimal sum, on the reference vectors', () => {
    expect(xx('')).toBe(BigInt('0xEF46DB3751D8E999').toString());
    expect(xx('a')).toBe(BigInt('0xD24EC4F1A98C6E5B').toString());
    expect(xx('abc')).toBe(BigInt('0x44BC2CF5AD770999').toString());
    // Past 32 bytes (the four-lane loop).
    expect(xx('Nobody inspects the spammish repetition')).toBe(BigInt('0xFBCEA83C8A378BF1').toString());
  });

  it('JSONata $hash and Bloblang .hash agree; other digests are hex (or the encoding asked)', async () => {
    const message = Message.fromBytes('{"id":"x"}');
    const render = (text: string) => compileInterpolation(text).render({ message, batch: [message], index: 0 });
    expect(await render('${! $hash($content(), "xxhash64") }')).toBe(await render('${! content().hash("xxhash64") }'));
    expect(await render('${! $hash($content(), "sha256") }')).toBe(await render('${! content().hash("sha256").encode("hex") }'));
    expect(await render('${! $hash("abc", "md5") }')).toBe('900150983cd24fb0d6963f7d28e17f72');
    expect(await render('${! $hash($content(), "sha1", "base64") }')).toBe(await render('${! content().hash("sha1").encode("base64") }'));
    expect(await render('${! $hash("abc", "crc32") }')).toBe('352441c2');
    await expect(render('${! $hash("abc", "nope") }')).rejects.toThrow(/unrecognised hash type: nope/);
  });
});
