// Frozen time and seeded ids for `sluice test` (`now:`, `uuid_seed:`) and `sluice map`
// (`--now`, `--uuid-seed`), so a golden output can hold `$now()` and `$uuid_v4()` results.
import { createHash, randomUUID } from 'node:crypto';
import { useHooks } from '../mapping/environment.js';

export interface Determinism {
  /** An RFC 3339 instant every `$now()`/`$millis()` returns. */
  readonly now?: string;
  /** Makes the n-th `$uuid_v4()` call return the same id on every run. */
  readonly uuidSeed?: string | number;
}

// RFC 3339 with a required offset: a local time would make a golden file depend on the machine's zone.
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

/** The instant of an RFC 3339 time, or undefined when `text` is not one. */
export function parseInstant(text: string): Date | undefined {
  if (!RFC3339.test(text)) return undefined;
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/**
 * A generator of version 4 shaped UUIDs: the n-th call hashes (seed, n). Two generators with the
 * same seed yield the same sequence; different seeds yield unrelated ones.
 */
export function seededUuids(seed: string | number): () => string {
  let n = 0;
  return () => {
    const hash = createHash('sha256').update(`sluice uuid_seed ${String(seed)} ${n++}`).digest();
    hash[6] = (hash[6]! & 0x0f) | 0x40;
    hash[8] = (hash[8]! & 0x3f) | 0x80;
    const hex = hash.subarray(0, 16).toString('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  };
}

/**
 * Installs the hooks for every expression evaluated until the returned function is called; a
 * no-op when nothing is frozen or seeded. Throws when `now` is not an RFC 3339 time.
 */
export function applyDeterminism({ now, uuidSeed }: Determinism): () => void {
  if (now === undefined && uuidSeed === undefined) return () => {};
  const instant = now === undefined ? undefined : parseInstant(now);
  if (now !== undefined && instant === undefined) throw new Error(`invalid time ${JSON.stringify(now)}: expected RFC 3339 such as 2025-01-01T00:00:00Z`);
  return useHooks({
    now: () => (instant ? new Date(instant.getTime()) : new Date()),
    uuidV4: uuidSeed === undefined ? randomUUID : seededUuids(uuidSeed),
  });
}
