import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Message } from '../../src/engine/message.js';
import { compileExpression, DELETED, MappingSyntaxError, useHooks, uuidV5 } from '../../src/mapping/environment.js';
import { compileInterpolation } from '../../src/mapping/interpolation.js';

const run = (expr: string, message = Message.fromJSON({}), batch: Message[] = [message], index = 0) =>
  compileExpression(expr).evaluate({ message, batch, index });

describe('the mapping environment', () => {
  const message = Message.fromJSON({ name: 'wl-1' }, { scrape_interval: '30s', count: 3, empty: '', flag: true });

  it('$meta returns strings, null for a missing or empty key, and every key as strings without one', async () => {
    expect(await run('$meta("scrape_interval")', message)).toBe('30s');
    expect(await run('$meta("count")', message)).toBe('3');
    expect(await run('$meta("empty")', message)).toBeNull();
    expect(await run('$meta("missing")', message)).toBeNull();
    expect(await run('$meta()', message)).toEqual({ scrape_interval: '30s', count: '3', empty: '', flag: 'true' });
  });

  it('$metadata returns typed values', async () => {
    expect(await run('$metadata("count")', message)).toBe(3);
    expect(await run('$metadata("flag")', message)).toBe(true);
    expect(await run('$metadata("missing")', message)).toBeNull();
  });

  it('$parse_duration follows Go: integer nanoseconds', async () => {
    expect(await run('$parse_duration("1m0s")')).toBe(60e9);
    expect(await run('$parse_duration("1h2m3.5s")')).toBe(3723.5e9);
    await expect(run('$parse_duration("5 minutes")')).rejects.toThrow(/invalid duration/);
  });

  it('$parse_duration gives each text its own value when called again with the same or another text', async () => {
    const texts = ['30s', '30s', '1m', 'bad', '1m', 'bad', '', '30s', '-1.5h', '-1.5h'];
    const results = [];
    for (const text of texts) results.push(await run('$parse_duration(d)', Message.fromJSON({ d: text })).catch(() => 'error'));
    expect(results).toEqual([30e9, 30e9, 60e9, 'error', 60e9, 'error', 'error', 30e9, -5400e9, -5400e9]);
    await expect(run('$parse_duration(missing)')).rejects.toThrow();
  });

  it('the doc mapping arithmetic: 30s of 2 GPUs is 1 GPU-minute', async () => {
    const gpu = Message.fromJSON({ allocatedResources: { gpu: 2 } }, { scrape_interval: '30s' });
    expect(await run('allocatedResources.gpu * $round($parse_duration($meta("scrape_interval")) / 1e9) / 60', gpu)).toBe(1);
  });

  it('$uuid_v5 matches RFC 9562 test vectors (computed with Python uuid)', () => {
    expect(uuidV5('www.example.com', 'dns')).toBe('2ed6657d-e927-568b-95e1-2665a8aea6a2');
    expect(uuidV5('hello')).toBe('b7502f40-1152-59f2-ba10-69aeed522cdf');
    expect(uuidV5('run_ai|cluster-1|wl-1|2025-01-01T00:00:00Z|30s', 'url')).toBe('bf992a4b-9be6-550d-9533-fd674b11676f');
  });

  it('$uuid_v4 is random unless hooks freeze it; $now follows the hooks too', async () => {
    const a = await run('$uuid_v4()');
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(await run('$uuid_v4()')).not.toBe(a);
    const restore = useHooks({ now: () => new Date('2025-01-01T00:00:00Z'), uuidV4: () => 'fixed' });
    try {
      expect(await run('[$now(), $uuid_v4(), $millis()]')).toEqual(['2025-01-01T00:00:00.000Z', 'fixed', 1735689600000]);
    } finally {
      restore();
    }
  });

  it('$deleted, $batch_index, $batch_size, $errored, $error_message, $content, $env', async () => {
    expect(await run('$deleted()')).toBe(DELETED);
    const batch = [Message.fromJSON(1), Message.fromJSON(2), Message.fromJSON(3)];
    expect(await run('[$batch_index(), $batch_size()]', batch[2], batch, 2)).toEqual([2, 3]);
    const failed = Message.fromBytes('not json').withError(new Error('boom'));
    expect(await run('[$errored(), $error_message(), $content(), $]', failed)).toEqual([true, 'boom', 'not json', 'not json']);
    process.env.SLUICE_TEST_ENV = 'x';
    expect(await run('[$env("SLUICE_TEST_ENV"), $env("SLUICE_TEST_UNSET")]')).toEqual(['x', null]);
  });

  it('one compiled expression serves concurrent evaluations with their own messages', async () => {
    const expr = compileExpression('$meta("k") & ":" & v');
    const messages = Array.from({ length: 50 }, (_, i) => Message.fromJSON({ v: String(i) }, { k: `m${i}` }));
    const results = await Promise.all(messages.map((m) => expr.evaluate({ message: m, batch: [m], index: 0 })));
    expect(results).toEqual(messages.map((_, i) => `m${i}:${i}`));
  });

  it('reports a syntax error with its line and column in the expression', () => {
    try {
      compileExpression('{\n  "a": name,\n  "b": ]\n}');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(MappingSyntaxError);
      expect((err as MappingSyntaxError).line).toBe(3);
      expect((err as MappingSyntaxError).column).toBe(8);
    }
  });

  it('names the JSONata error code when evaluation fails', async () => {
    await expect(run('"a" + 1')).rejects.toThrow(/mapping failed at line 1, column \d+: .*T2001/);
  });
});

describe('${! } interpolation', () => {
  const message = Message.fromJSON({ id: 7, tags: ['a'] }, { topic: 'usage' });
  const render = (text: string) => compileInterpolation(text).render({ message, batch: [message], index: 0 });

  it('renders expressions in place; strings raw, null as "null", the rest as JSON', async () => {
    expect(await render('/events/${! id }?t=${!$meta("topic")}')).toBe('/events/7?t=usage');
    expect(await render('${! missing }|${! tags }|${! {"a": 1} }')).toBe('null|["a"]|{"a":1}');
  });

  it('treats ${{! }} as an escape and text without ${! as static', async () => {
    expect(await render('literal ${{! id }}')).toBe('literal ${! id }');
    expect(compileInterpolation('Bearer abc').isStatic).toBe(true);
  });

  it('fails at compile time on an unclosed interpolation', () => {
    expect(() => compileInterpolation('x ${! id')).toThrow(/unclosed/);
  });

  it('leaves any text without "${" unchanged (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string().filter((s) => !s.includes('${')), async (text) => {
        expect(await render(text)).toBe(text);
      }),
    );
  });
});
