// Structural JSON comparison for test conditions, and the one-line-per-path differences shown
// when it fails: `data.gpuAllocationMinutes: expected 1.5, received 0.75`.

const MAX_DIFFERENCES = 20;
const MAX_VALUE = 200;

/** Whether two JSON values are equal, ignoring key order. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  return differences(a, b, false, '', 1).length === 0;
}

/**
 * Whether `received` holds `expected`: objects may have more keys, arrays are compared index by
 * index and may have more items, anything else must be equal.
 */
export function jsonContains(expected: unknown, received: unknown): boolean {
  return differences(expected, received, true, '', 1).length === 0;
}

/** Every difference between `expected` and `received` as readable lines, capped at 20. */
export function jsonDifferences(expected: unknown, received: unknown, contains = false): string[] {
  const found = differences(expected, received, contains, '', MAX_DIFFERENCES + 1);
  if (found.length <= MAX_DIFFERENCES) return found;
  return [...found.slice(0, MAX_DIFFERENCES), '... and more differences'];
}

/** Compact JSON of a value for a message, shortened when long. */
export function preview(value: unknown, max = MAX_VALUE): string {
  return shorten(value === undefined ? 'nothing' : JSON.stringify(value), max);
}

export function shorten(text: string, max = MAX_VALUE): string {
  return text.length > max ? `${text.slice(0, max)}...` : text;
}

function differences(expected: unknown, received: unknown, contains: boolean, path: string, limit: number): string[] {
  const out: string[] = [];
  const walk = (e: unknown, r: unknown, at: string): void => {
    if (out.length >= limit) return;
    if (Array.isArray(e) && Array.isArray(r)) {
      if (contains ? r.length < e.length : r.length !== e.length) {
        out.push(`${label(at)}: expected ${e.length} items${contains ? ' or more' : ''}, received ${r.length}`);
      }
      for (let i = 0; i < Math.min(e.length, r.length); i++) walk(e[i], r[i], `${at}[${i}]`);
      return;
    }
    if (isPlainObject(e) && isPlainObject(r)) {
      for (const [key, value] of Object.entries(e)) {
        if (!(key in r)) out.push(`${label(join(at, key))}: missing, expected ${preview(value)}`);
        else walk(value, r[key], join(at, key));
      }
      if (!contains) for (const key of Object.keys(r)) if (!(key in e)) out.push(`${label(join(at, key))}: unexpected ${preview(r[key])}`);
      return;
    }
    if (!Object.is(e, r) && !(e === 0 && r === 0)) out.push(`${label(at)}: expected ${preview(e)}, received ${preview(r)}`);
  };
  walk(expected, received, path);
  return out;
}

/** `$` for the whole document, else the JSONata-style path. */
function label(path: string): string {
  return path === '' ? '$' : path;
}

function join(path: string, key: string): string {
  const segment = /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? key : `\`${key}\``;
  return path === '' ? segment : `${path}.${segment}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
