import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { lines } from '../../../src/components/inputs/stdin.js';
import type { Input } from '../../../src/engine/component.js';

/** Feeds `chunks` to a stdin `lines` reader and returns every message it reads, and the errors it logged. */
async function readAll(chunks: readonly Buffer[], delimiter: string, maxLineChars?: number) {
  const stream = new PassThrough();
  const errors: string[] = [];
  const logger = pino({ level: 'error' }, { write: (line: string) => errors.push(JSON.parse(line).msg) });
  const input: Input = lines(stream, delimiter, logger, maxLineChars);
  const signal = new AbortController().signal;
  const got: string[] = [];
  const reading = (async () => {
    for (let read = await input.read(signal); read !== null; read = await input.read(signal)) got.push(...read.batch.map((m) => m.text()));
  })();
  for (const chunk of chunks) stream.write(chunk);
  stream.end();
  await reading;
  return { got, errors };
}

/** The bytes of `text` cut at the given (sorted, possibly mid-character) offsets. */
function chunked(text: string, cuts: number[]): Buffer[] {
  const bytes = Buffer.from(text);
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  return [...at, bytes.length].map((end, i) => bytes.subarray(i === 0 ? 0 : at[i - 1], end)).filter((b) => b.length > 0);
}

describe('stdin lines', () => {
  it('cuts lines exactly as splitting the whole input would, wherever the chunks break (mid-character, mid-delimiter)', async () => {
    const delimiters = fc.constantFrom('\n', '|', '--', 'aba', '\r\n\r\n');
    await fc.assert(
      fc.asyncProperty(
        delimiters,
        fc.array(fc.constantFrom('a', 'b', '-', '|', '\n', '\r', 'é', '😀', 'xyz'), { maxLength: 60 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.integer({ min: 1, max: 12 }),
        async (delimiter, parts, cuts, max) => {
          const text = parts.join('');
          const raw = text.split(delimiter);
          const kept = raw.filter((line) => line.length <= max);
          const expected = kept.map((line) => (delimiter === '\n' && line.endsWith('\r') ? line.slice(0, -1) : line)).filter((line) => line !== '');
          const { got, errors } = await readAll(chunked(text, cuts), delimiter, max);
          expect(got).toEqual(expected);
          // Every line skipped for its length is reported, by its number.
          const skipped = raw.flatMap((line, i) => (line.length > max ? [i + 1] : []));
          expect(errors.map((e) => Number(/line (\d+)/.exec(e)![1]))).toEqual(skipped);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reads a line of many chunks in time linear in its length', async () => {
    // 32 MiB in 64 KiB chunks: joining the held text before each search would copy ~8 GiB.
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const chunks = Array.from({ length: 512 }, () => chunk);
    const started = process.cpuUsage();
    const { got } = await readAll([...chunks, Buffer.from('\nend\n')], '\n');
    const used = process.cpuUsage(started);
    const cpuMs = (used.user + used.system) / 1000;
    expect(got.map((line) => line.length)).toEqual([32 * 1024 * 1024, 3]);
    expect(cpuMs).toBeLessThan(5000);
  });
});
