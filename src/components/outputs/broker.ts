// Several outputs behind one (Redpanda Connect's `broker` output): every message to all of them
// (fan_out, fan_out_sequential), or each batch to one of them (round_robin, greedy).
import { batchingSchema, type BatchingConfig } from '../../engine/batching.js';
import { defineOutput, type ChildOutput, type Settings, type Submission } from '../../engine/component.js';
import type { Message } from '../../engine/message.js';
import { combine, submitPart } from '../io/children.js';
import { WrapperOutput } from './wrapper.js';

export interface BrokerConfig {
  pattern: 'fan_out' | 'fan_out_sequential' | 'round_robin' | 'greedy';
  copies: number;
  outputs: unknown[];
  batching: BatchingConfig;
}

export default defineOutput<BrokerConfig>({
  name: 'broker',
  summary: 'Writes to several outputs: every message to all of them (fan_out, fan_out_sequential) or each batch to one (round_robin, greedy).',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['outputs'],
    properties: {
      pattern: {
        type: 'string',
        enum: ['fan_out', 'fan_out_sequential', 'round_robin', 'greedy'],
        default: 'fan_out',
        description:
          'fan_out: every batch to every output at once, a failed output retried until it succeeds (the others are not written again); fan_out_sequential: the same, one output after the other; round_robin: each batch to the next output in turn; greedy: each batch to the output with the fewest batches in flight.',
      },
      copies: { type: 'integer', minimum: 1, default: 1, description: 'How many times the outputs list is repeated (parallel copies of each output).' },
      outputs: { type: 'array', minItems: 1, items: { 'x-component': 'output' }, description: 'The outputs.' },
      batching: batchingSchema,
    },
  },
  example: { outputs: [{ drop: {} }, { stdout: {} }] },
  create: (config, settings) => new Broker(config, settings),
});

class Broker extends WrapperOutput {
  #pattern: BrokerConfig['pattern'];
  #settings: Settings;
  #closing = new AbortController();
  #next = 0;
  #inFlight: number[];

  constructor(config: BrokerConfig, settings: Settings) {
    const children: ChildOutput[] = [];
    for (let copy = 0; copy < config.copies; copy++) {
      config.outputs.forEach((child, i) => children.push(settings.build.output(child, `${settings.path}.outputs[${i}]`)));
    }
    super(children);
    this.#pattern = config.pattern;
    this.#settings = settings;
    this.#inFlight = children.map(() => 0);
  }

  /**
   * fan_out: delivered once every output delivered the batch; an output that fails is retried
   * (alone) until it succeeds or the broker closes, as in Connect. round_robin and greedy: the
   * one output's outcome.
   */
  submit(batch: readonly Message[]): Submission {
    const { logger } = this.#settings;
    switch (this.#pattern) {
      case 'fan_out':
        return combine(
          this.children.map((child) => ({ messages: batch, submission: submitPart({ child, messages: batch }, true, this.#closing.signal, logger) })),
          undefined,
        );
      case 'fan_out_sequential':
        return this.#sequential(batch);
      case 'round_robin': {
        const child = this.children[this.#next]!;
        this.#next = (this.#next + 1) % this.children.length;
        return child.submit(batch);
      }
      case 'greedy': {
        let best = 0;
        for (let i = 1; i < this.children.length; i++) if (this.#inFlight[i]! < this.#inFlight[best]!) best = i;
        this.#inFlight[best]!++;
        const submission = this.children[best]!.submit(batch);
        const done = () => void this.#inFlight[best]!--;
        submission.delivered.then(done, done);
        return submission;
      }
    }
  }

  override async close(): Promise<void> {
    this.#closing.abort();
    await super.close();
  }

  /** One output after the other, each retried until it delivers, the next starting once it did. */
  #sequential(batch: readonly Message[]): Submission {
    const { logger } = this.#settings;
    let accept!: () => void;
    const accepted = new Promise<void>((resolve) => (accept = resolve));
    const delivered = (async () => {
      for (const [i, child] of this.children.entries()) {
        const submission = submitPart({ child, messages: batch }, true, this.#closing.signal, logger);
        if (i === 0) void submission.accepted.then(accept, accept);
        await Promise.all([submission.accepted, submission.delivered]);
      }
    })();
    return { accepted, delivered };
  }
}
