import { closest, distance } from 'fastest-levenshtein';
import type { ComponentSpec, Kind } from './component.js';

/** The components one engine can build, looked up by kind and YAML key. */
export interface Registry {
  get(kind: Kind, name: string): ComponentSpec | undefined;
  names(kind: Kind): string[];
  all(): readonly ComponentSpec[];
}

/** Builds a registry from the one explicit component list. Throws on a duplicate kind/name. */
export function createRegistry(specs: readonly ComponentSpec[]): Registry {
  const byKey = new Map<string, ComponentSpec>();
  for (const spec of specs) {
    const key = `${spec.kind}/${spec.name}`;
    if (byKey.has(key)) throw new Error(`duplicate component ${key}`);
    byKey.set(key, spec);
  }
  return {
    get: (kind, name) => byKey.get(`${kind}/${name}`),
    names: (kind) => specs.filter((s) => s.kind === kind).map((s) => s.name).sort(),
    all: () => specs,
  };
}

/** " (did you mean x?)" when a known name is close to `name`, else "". */
export function didYouMean(name: string, known: readonly string[]): string {
  if (known.length === 0) return '';
  const best = closest(name, known as string[]);
  return distance(name, best) <= Math.max(2, Math.floor(best.length / 3)) ? ` (did you mean ${best}?)` : '';
}
