import { Cron } from 'croner';
import { parseDuration } from '../../config/duration.js';
import { defineInput, type ReadResult } from '../../engine/component.js';
import { Message } from '../../engine/message.js';
import { sleep } from '../../engine/sleep.js';
import { DELETED } from '../../mapping/environment.js';
import { compileMappingText } from '../../mapping/language.js';

/** Messages one read hands over at most when generating as fast as possible (whole batches; at least one). */
export const MAX_MESSAGES_PER_READ = 100;

interface GenerateConfig {
  mapping: string;
  interval: string;
  count: number;
  batch_size: number;
  auto_replay_nacks: boolean;
}

export default defineInput<GenerateConfig>({
  name: 'generate',
  summary: 'Creates messages from a JSONata expression on an interval or cron schedule; good for testing pipelines.',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['mapping'],
    properties: {
      mapping: { type: 'string', description: 'A JSONata expression producing each message; it has no input document.' },
      interval: {
        type: 'string',
        default: '1s',
        description: 'A duration (first message at once), a cron expression (`*/5 * * * * *`, `@every 30s`), or "" for as fast as possible.',
      },
      count: { type: 'integer', minimum: 0, default: 0, description: 'Stop after this many messages (the pipeline then shuts down); 0: never.' },
      batch_size: { type: 'integer', minimum: 1, default: 1, description: 'Messages per batch.' },
      auto_replay_nacks: {
        type: 'boolean',
        default: true,
        description: 'Accepted for Redpanda Connect configs: sluice always sends failed messages again (false is logged as not supported).',
      },
    },
  },
  example: { mapping: '{ "hello": "world" }', count: 1 },
  create(config, { logger }) {
    if (!config.auto_replay_nacks) logger.warn('auto_replay_nacks: false is not supported: failed messages are sent again; wrap the output in drop_on or reject_errored to drop them.');
    let compiled;
    try {
      compiled = compileMappingText(config.mapping);
    } catch (err) {
      throw Object.assign(err as Error, { field: 'mapping' });
    }
    const next = schedule(config.interval);
    let produced = 0;
    let stopped = new AbortController();
    return {
      async connect() {
        stopped = new AbortController();
      },
      async read(signal): Promise<ReadResult | null> {
        const remaining = config.count > 0 ? config.count - produced : Infinity;
        if (remaining <= 0 || signal.aborted || stopped.signal.aborted) return null;
        await sleep(next(produced === 0), signal, stopped.signal);
        if (signal.aborted || stopped.signal.aborted) return null;
        // As fast as possible (interval ""): one read hands over several batches, up to
        // MAX_MESSAGES_PER_READ messages, each still a batch of its own (as that many reads).
        const batches: Message[][] = [];
        let taken = 0;
        do {
          const batch: Message[] = [];
          const size = Math.min(config.batch_size, remaining - taken);
          for (let i = 0; i < size; i++) {
            let value = compiled.evaluateSync(undefined, undefined);
            if (value instanceof Promise) value = await value;
            produced++;
            if (value !== DELETED) batch.push(Message.fromJSON(value ?? null));
          }
          taken += size;
          batches.push(batch);
        } while (config.interval === '' && taken < remaining && taken + config.batch_size <= MAX_MESSAGES_PER_READ && !signal.aborted);
        if (batches.length === 1) return { batch: batches[0]!, ack: () => {} };
        return { batch: batches.flat(), batches, ack: () => {} };
      },
      async close() {
        stopped.abort();
      },
    };
  },
});

/** Returns how long to wait before the next batch (ms), given whether it is the first. */
function schedule(interval: string): (first: boolean) => number {
  if (interval === '') return () => 0;
  const every = /^@every\s+(.+)$/.exec(interval);
  if (every || /^[-+]?[\d.]+[a-zµμ]+/.test(interval)) {
    let ms: number;
    try {
      ms = parseDuration(every ? every[1]!.trim() : interval) / 1e6;
    } catch (err) {
      throw Object.assign(err as Error, { field: 'interval' });
    }
    // Due times advance by exactly one interval, so the rate holds however long each batch took.
    let due = Date.now();
    return (first) => {
      if (!(first && !every)) due += ms;
      if (first && !every) due = Date.now();
      return Math.max(0, due - Date.now());
    };
  }
  let cron: Cron;
  try {
    cron = new Cron(interval, { paused: true, timezone: 'UTC' });
  } catch (err) {
    throw Object.assign(new Error(`invalid interval ${JSON.stringify(interval)}: ${(err as Error).message}`), { field: 'interval' });
  }
  return () => Math.max(0, (cron.nextRun()?.getTime() ?? Date.now()) - Date.now());
}
