import { durationSchema, parseDurationMs } from '../../config/duration.js';
import { defineCache, type Cache } from '../../engine/component.js';
import { componentPath, type Metrics } from '../../engine/metrics.js';

interface MemoryConfig {
  default_ttl: string;
  compaction_interval: string;
  init_values: Record<string, string>;
  shards: number;
}

export default defineCache<MemoryConfig>({
  name: 'memory',
  summary: 'Keys and values held in this process, each expiring after a time to live; lost on restart.',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      default_ttl: durationSchema('How long a key lives unless set with its own time to live.', '5m'),
      compaction_interval: {
        type: 'string',
        default: '60s',
        description: 'How often expired keys are removed ("" never: expired keys are then only ignored).',
        format: 'duration-or-empty',
      },
      init_values: { type: 'object', additionalProperties: { type: 'string' }, default: {}, description: 'Keys and values the cache starts with (they do not expire).' },
      shards: { type: 'integer', minimum: 1, default: 1, description: 'Accepted for Redpanda Connect configs; one map serves every key in sluice.' },
    },
  },
  example: { default_ttl: '1h' },
  create(config, { metrics, label, path }) {
    return observedCache(metrics, label, componentPath(path), new MemoryCache(parseDurationMs(config.default_ttl), config.compaction_interval === '' ? 0 : parseDurationMs(config.compaction_interval), config.init_values));
  },
});

class MemoryCache implements Cache {
  #entries = new Map<string, { value: Uint8Array; expires: number }>();
  #ttlMs: number;
  #compactionMs: number;
  #lastCompaction = Date.now();

  constructor(ttlMs: number, compactionMs: number, initial: Record<string, string>) {
    this.#ttlMs = ttlMs;
    this.#compactionMs = compactionMs;
    for (const [key, value] of Object.entries(initial)) this.#entries.set(key, { value: new TextEncoder().encode(value), expires: Infinity });
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    return this.#live(key)?.value;
  }

  async set(key: string, value: Uint8Array, ttlMs?: number): Promise<void> {
    this.#compact();
    this.#entries.set(key, { value, expires: this.#expiry(ttlMs) });
  }

  async add(key: string, value: Uint8Array, ttlMs?: number): Promise<boolean> {
    if (this.#live(key)) return false;
    await this.set(key, value, ttlMs);
    return true;
  }

  async delete(key: string): Promise<void> {
    this.#entries.delete(key);
  }

  async close(): Promise<void> {
    this.#entries.clear();
  }

  #expiry(ttlMs = this.#ttlMs): number {
    return ttlMs > 0 ? Date.now() + ttlMs : Infinity;
  }

  #live(key: string) {
    const entry = this.#entries.get(key);
    if (entry && entry.expires <= Date.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /** Removes expired keys at most every compaction_interval, on writes (no timer: nothing to close). */
  #compact(): void {
    const now = Date.now();
    if (this.#compactionMs <= 0 || now - this.#lastCompaction < this.#compactionMs) return;
    this.#lastCompaction = now;
    for (const [key, entry] of this.#entries) if (entry.expires <= now) this.#entries.delete(key);
  }
}

/** Redpanda Connect's cache series around a cache: cache_success/error/latency_ns/not_found/duplicate{operation}. */
function observedCache(metrics: Metrics, label: string, path: string, cache: Cache): Cache {
  const labelNames = ['label', 'path', 'operation'];
  const count = (name: string, help: string, operation: string) => metrics.counter(name, help, labelNames).labels(label, path, operation);
  const observe = async <T>(operation: string, run: () => Promise<T>, outcome: (result: T) => 'success' | 'not_found' | 'duplicate'): Promise<T> => {
    const started = process.hrtime.bigint();
    try {
      const result = await run();
      const kind = outcome(result);
      count('cache_success', 'Successful cache operations.', operation).inc();
      if (kind === 'not_found') count('cache_not_found', 'Gets that found no value.', operation).inc();
      if (kind === 'duplicate') count('cache_duplicate', 'Adds refused because the key existed.', operation).inc();
      return result;
    } catch (err) {
      count('cache_error', 'Cache operations that failed.', operation).inc();
      throw err;
    } finally {
      metrics.timer('cache_latency_ns', 'Time of a cache operation, in ns.', labelNames).labels(label, path, operation).observe(Number(process.hrtime.bigint() - started));
    }
  };
  return {
    get: (key) => observe('get', () => cache.get(key), (v) => (v === undefined ? 'not_found' : 'success')),
    set: (key, value, ttl) => observe('set', () => cache.set(key, value, ttl), () => 'success'),
    add: (key, value, ttl) => observe('add', () => cache.add(key, value, ttl), (added) => (added ? 'success' : 'duplicate')),
    delete: (key) => observe('delete', () => cache.delete(key), () => 'success'),
    close: () => cache.close(),
  };
}
