import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { inShard, parseShard, shardLeaseSuffix, shardOf } from '../../src/windows/shard.js';

const ids = fc.uniqueArray(fc.oneof(fc.uuid(), fc.string({ minLength: 1, maxLength: 40 })), { maxLength: 300 });
const counts = fc.integer({ min: 1, max: 16 });

describe('sharding resources by a stable hash of their id', () => {
  it('partitions any set of ids: every id in exactly one shard, the union is the set', () => {
    fc.assert(
      fc.property(ids, counts, (set, count) => {
        const shards = Array.from({ length: count }, (_, index) => inShard(set, (id) => id, { index, count }));
        const union = shards.flat();
        expect(union.length).toBe(set.length);
        expect(new Set(union)).toEqual(new Set(set));
        for (const [index, shard] of shards.entries()) for (const id of shard) expect(shardOf(id, count)).toBe(index);
      }),
    );
  });

  it("is stable: an id's shard depends on the id alone, not on the order or the other ids", () => {
    fc.assert(
      fc.property(ids, ids, counts, fc.integer(), (set, others, count, seed) => {
        const shuffled = fc.sample(fc.shuffledSubarray(set, { minLength: set.length, maxLength: set.length }), { numRuns: 1, seed })[0]!;
        const mixed = [...others, ...shuffled];
        for (let index = 0; index < count; index++) {
          const alone = inShard(set, (id) => id, { index, count });
          const amid = new Set(inShard(mixed, (id) => id, { index, count }));
          expect(alone.every((id) => amid.has(id))).toBe(true);
          // The order of the listing is kept.
          expect(inShard(shuffled, (id) => id, { index, count })).toEqual(shuffled.filter((id) => alone.includes(id)));
        }
      }),
    );
  });

  it('moves an id only to the new shard when the shards grow by one (consistent hashing)', () => {
    fc.assert(
      fc.property(ids, counts, (set, count) => {
        for (const id of set) {
          const after = shardOf(id, count + 1);
          if (after !== count) expect(after).toBe(shardOf(id, count));
        }
      }),
    );
  });

  it('spreads ids evenly: 20,000 workload ids over 4 shards, each within 5% of a quarter', () => {
    const all = Array.from({ length: 20_000 }, (_, i) => `${i.toString(16).padStart(8, '0')}-6276-4993-bfeb-53cbbbba6f08`);
    const sizes = [0, 0, 0, 0];
    for (const id of all) sizes[shardOf(id, 4)]!++;
    for (const size of sizes) expect(Math.abs(size - 5_000)).toBeLessThan(250);
  });

  it('reads the shard from an integer or a StatefulSet pod name, and says what is wrong otherwise', () => {
    expect(parseShard(1, 2)).toBe(1);
    expect(shardOf('anything', 1)).toBe(0);
    expect(parseShard('sluice-runai-2', 3)).toBe(2);
    expect(parseShard('0', 3)).toBe(0);
    expect(parseShard('collector-10', 11)).toBe(10);
    expect(() => parseShard('sluice-runai', 3)).toThrow('"sluice-runai" is neither an integer nor a pod name ending in -<ordinal>');
    expect(() => parseShard('sluice-runai-3', 3)).toThrow('"sluice-runai-3" gives shard 3, but shards is 3 (shards are 0 to 2)');
    expect(() => parseShard(-1, 3)).toThrow('must be a non-negative integer, got -1');
    expect(() => parseShard(1.5, 3)).toThrow('must be a non-negative integer, got 1.5');
  });

  it('gives a sharded input a lease name suffix per shard, and none otherwise', () => {
    expect(shardLeaseSuffix({ run_ai: { url: 'x', shards: 3, shard: 'sluice-2' } })).toBe('-shard-2');
    expect(shardLeaseSuffix({ run_ai: { url: 'x', shards: 1, shard: 0 } })).toBeUndefined();
    expect(shardLeaseSuffix({ run_ai: { url: 'x' } })).toBeUndefined();
    expect(shardLeaseSuffix({ run_ai: { shards: 2, shard: 'no-ordinal' } })).toBeUndefined();
    expect(shardLeaseSuffix(undefined)).toBeUndefined();
  });
});
