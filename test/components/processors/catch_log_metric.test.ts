import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import log from '../../../src/components/processors/log.js';
import { Message } from '../../../src/engine/message.js';
import { memoryComponents, memoryState } from '../../support/memory.js';
import { pipelineFromYaml } from '../../support/pipeline.js';
import { testSettings } from '../../support/settings.js';

describe('catch', () => {
  it('runs its processors on failed messages only, then clears the flag, keeping order', async () => {
    const state = memoryState([[{ n: 1 }, { x: 1 }, { n: 3 }]]);
    const { pipeline } = pipelineFromYaml(
      `
input: { memory: {} }
pipeline:
  processors:
    - mapping: 'n ? n : $error("no n")'
    - catch:
        - mapping: '{ "failed": $error_message() }'
output: { memory: {} }
`,
      memoryComponents(state.input, state.output),
    );
    await pipeline.run(new AbortController().signal);
    const out = state.output.writes.flat();
    expect(out.map((m) => m.json())).toEqual([1, { failed: expect.stringMatching(/no n/) }, 3]);
    expect(out.every((m) => m.error === undefined)).toBe(true);
  });
});

describe('metric', () => {
  it('counts messages into a custom counter with interpolated labels, shown on the registry', async () => {
    const state = memoryState([[{ t: 'a' }, { t: 'b' }, { t: 'a' }]]);
    const { pipeline, metrics } = pipelineFromYaml(
      `
input: { memory: {} }
pipeline:
  processors:
    - metric: { type: counter, name: events_by_type, labels: { type: '\${! t }' } }
    - metric: { type: gauge, name: last_size, value: '\${! $batch_size() }' }
output: { memory: {} }
`,
      memoryComponents(state.input, state.output),
    );
    await pipeline.run(new AbortController().signal);
    const text = await metrics.registry.metrics();
    // With the processor's label and path, as Connect's metric processor.
    expect(text).toMatch(/events_by_type\{label="",path="pipeline.processors\[0\]",type="a"\} 2/);
    expect(text).toMatch(/events_by_type\{label="",path="pipeline.processors\[0\]",type="b"\} 1/);
    expect(text).toMatch(/last_size\{label="",path="pipeline.processors\[1\]"\} 3/);
    expect(state.output.writes.flat()).toHaveLength(3);
  });
});

describe('log', () => {
  it('logs an interpolated line per message at its level and passes messages on', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(JSON.parse(String(chunk)));
        done();
      },
    });
    const processor = log.create(
      { level: 'WARN', message: 'saw ${! name }', fields_mapping: '{ "gpus": gpu }' },
      testSettings({ logger: pino({ level: 'info' }, sink) }),
    );
    const out = await processor.process([Message.fromJSON({ name: 'wl-1', gpu: 2 })]);
    expect(out[0]!.map((m) => m.json())).toEqual([{ name: 'wl-1', gpu: 2 }]);
    expect(lines).toEqual([expect.objectContaining({ level: 40, msg: 'saw wl-1', gpus: 2 })]);
  });
});
