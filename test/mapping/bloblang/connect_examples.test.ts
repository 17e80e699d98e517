// Connect's documented examples for the methods sluice implements (each method's reference entry:
// mapping, input, output or error), copied into test/fixtures/bloblang/connect-examples.json from
// redpanda-data/benthos (internal/bloblang/query: methods*.go, functions.go; internal/impl/pure:
// bloblang_time.go), the source of Connect's Bloblang reference pages. Every example must pass, except the ones listed below with the reason.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Message } from '../../../src/engine/message.js';
import { compileBloblangMapping, DELETED, NOTHING } from '../../../src/mapping/bloblang/index.js';
import { cleanForOutput } from '../../../src/mapping/bloblang/values.js';

interface Example {
  /** The method (or, with `function`, the function) the example documents. */
  readonly method: string;
  readonly function?: boolean;
  readonly mapping: string;
  readonly input: string;
  readonly output?: string;
  readonly error?: string;
}

const examples = JSON.parse(readFileSync(new URL('../../fixtures/bloblang/connect-examples.json', import.meta.url), 'utf8')) as Example[];
const sources = { now: () => new Date('2025-01-01T00:00:00Z'), uuidV4: () => '11111111-1111-4111-8111-111111111111' };

/** Examples sluice does not reproduce, and why (each must still fail, so this list stays true). */
const KNOWN_GAPS: Record<string, string> = {
  'string#2': 'numbers are doubles: 228930314431312345 is not exactly representable',
};

// One compiled mapping per text: an example's input/output pairs run on the same mapping, in order,
// as Connect's documentation tests run them (so counter() and count() carry on between pairs).
const compiled = new Map<string, ReturnType<typeof compileBloblangMapping>>();

/** What the mapping makes of the input: the body text, or the error message. */
function run(example: Example): { text?: string; error?: string } {
  const message = Message.fromBytes(example.input);
  try {
    let mapping = compiled.get(example.mapping);
    if (!mapping) compiled.set(example.mapping, (mapping = compileBloblangMapping(example.mapping)));
    const { root } = mapping.execute({ message, batch: [message], index: 0 }, sources);
    if (root === DELETED) return { text: '<deleted>' };
    if (root === NOTHING) return { text: example.input };
    if (typeof root === 'string') return { text: root };
    if (root instanceof Uint8Array) return { text: Buffer.from(root).toString('utf8') };
    return { text: JSON.stringify(cleanForOutput(root)) };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

function passes(example: Example): boolean {
  const got = run(example);
  if (example.error !== undefined) return got.error === example.error;
  if (got.text === undefined) return false;
  try {
    expect(JSON.parse(got.text)).toEqual(JSON.parse(example.output!));
    return true;
  } catch {
    return got.text === example.output;
  }
}

const counts = new Map<string, number>();
const key = (example: Example) => {
  const n = (counts.get(example.method) ?? 0) + 1;
  counts.set(example.method, n);
  return `${example.method}#${n}`;
};
const keyed = examples.map((example) => ({ example, id: key(example) }));
let passed = 0;

describe("Connect's documented Bloblang examples", () => {
  for (const { example, id } of keyed) {
    it(`${id}: ${example.mapping.split('\n')[0]}`, () => {
      const ok = passes(example);
      if (KNOWN_GAPS[id]) {
        expect(ok, `${id} now passes: remove it from KNOWN_GAPS`).toBe(false);
        return;
      }
      if (!ok) {
        const got = run(example);
        expect(got.error ?? got.text, `input ${example.input}`).toBe(example.error ?? example.output);
      }
      passed++;
    });
  }

  afterAll(() => {
    const methods = new Set(examples.filter((e) => !e.function).map((e) => e.method));
    const functions = new Set(examples.filter((e) => e.function).map((e) => e.method));
    console.log(
      `Connect's documented examples: ${passed} of ${examples.length} pass (${methods.size} methods, ${functions.size} functions); known gaps: ${Object.keys(KNOWN_GAPS).join(', ')}`,
    );
  });
});
