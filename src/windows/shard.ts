// Sharding a windowed input across replicas: `shards: N` and `shard: i` on the input make replica i
// scrape only the resources whose id hashes to i, so N replicas (a StatefulSet of N pods, each
// `shard: ${HOSTNAME}`) share a cluster too large for one, and together scrape exactly all of it.
//
// The hash is stable (it depends on the id alone: not on the listing's order, the other ids, the
// process or the platform), so a resource stays with its shard from scrape to scrape and its
// windows, owed retries and ledger rows stay with one replica. It is a jump consistent hash
// (Lamping & Veach, 2014) of the id's FNV-1a hash: growing from N to N+1 shards moves only the
// ~1/(N+1) of the resources that go to the new shard; none move between the old ones.

/** Which share of the resources this replica scrapes. */
export interface Shard {
  /** This replica's shard, 0 to count - 1. */
  readonly index: number;
  /** How many replicas share the resources. */
  readonly count: number;
}

/** The JSON Schema of `shards` and `shard`, for an input's `properties`. */
export function shardSchema(what: string): Record<string, unknown> {
  return {
    shards: {
      type: 'integer',
      minimum: 1,
      default: 1,
      description: `Replicas sharing the ${what}: each scrapes the ones whose id hashes to its shard (a stable hash), so together they scrape each exactly once. With leader election each shard has its own lease (the lease name gets "-shard-<shard>"). See README "Sizing".`,
    },
    shard: {
      anyOf: [
        { type: 'integer', minimum: 0 },
        { type: 'string', minLength: 1 },
      ],
      default: 0,
      description:
        'This replica\'s shard, 0 to shards - 1: an integer, or a StatefulSet pod name ending in -<ordinal> (e.g. "${HOSTNAME}" in a pod named sluice-runai-2 gives 2).',
    },
  };
}

const ORDINAL = /^(?:.*-)?(\d+)$/;

/**
 * The shard index of `shard` (an integer, or a name ending in -<ordinal>, such as a StatefulSet's
 * pod name) out of `count`. Throws a message for the user when it is neither, or not below `count`.
 */
export function parseShard(shard: number | string, count: number): number {
  let index: number;
  if (typeof shard === 'number') {
    index = shard;
  } else {
    const match = ORDINAL.exec(shard.trim());
    if (!match) throw new Error(`${JSON.stringify(shard)} is neither an integer nor a pod name ending in -<ordinal> (e.g. sluice-runai-2)`);
    index = Number(match[1]);
  }
  if (!Number.isSafeInteger(index) || index < 0) throw new Error(`must be a non-negative integer, got ${JSON.stringify(shard)}`);
  if (index >= count) throw new Error(`${JSON.stringify(shard)} gives shard ${index}, but shards is ${count} (shards are 0 to ${count - 1})`);
  return index;
}

/** The shard (0 to count - 1) that resource `id` belongs to. */
export function shardOf(id: string, count: number): number {
  if (count <= 1) return 0;
  return jump(fnv1a(id), count);
}

/** The resources of `items` that belong to `shard`, in their order. */
export function inShard<T>(items: readonly T[], idOf: (item: T) => string, shard: Shard): T[] {
  if (shard.count <= 1) return [...items];
  return items.filter((item) => shardOf(idOf(item), shard.count) === shard.index);
}

/**
 * The lease name suffix of a sharded input in `input` (a config's `input` section), e.g.
 * `-shard-2`; undefined when the input is not sharded or its shard is invalid (the input's own
 * validation reports that).
 */
export function shardLeaseSuffix(input: unknown): string | undefined {
  if (typeof input !== 'object' || input === null) return undefined;
  for (const section of Object.values(input)) {
    if (typeof section !== 'object' || section === null) continue;
    const { shards, shard } = section as { shards?: unknown; shard?: unknown };
    if (typeof shards !== 'number' || shards <= 1 || (typeof shard !== 'number' && typeof shard !== 'string')) continue;
    try {
      return `-shard-${parseShard(shard, shards)}`;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** FNV-1a over the id's UTF-16 code units, 32 bits. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * Jump consistent hash: the bucket of `key` among `buckets`. Its random steps come from a
 * generator seeded with the key (mulberry32), so the result depends on the key alone.
 */
function jump(key: number, buckets: number): number {
  let state = key;
  const next = (): number => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    // In (0, 1]: never 0, so the division below is finite.
    return (((t ^ (t >>> 14)) >>> 0) + 1) / 4294967296;
  };
  let bucket = -1;
  let j = 0;
  while (j < buckets) {
    bucket = j;
    j = Math.floor((bucket + 1) / next());
  }
  return bucket;
}
