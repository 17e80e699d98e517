import { durationSchema, parseDurationMs } from '../../config/duration.js';
import { defineCache, type Cache } from '../../engine/component.js';

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
  create(config) {
    return new MemoryCache(parseDurationMs(config.default_ttl), config.compaction_interval === '' ? 0 : parseDurationMs(config.compaction_interval), config.init_values);
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
