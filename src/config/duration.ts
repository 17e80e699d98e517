// Go's duration syntax (time.ParseDuration / Duration.String), the one way sluice reads and
// writes durations: `30s`, `1m0s`, `100ms`, `1h2m3s`, `1.5h`, `-2m`.

const UNIT_NS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3,
  'μs': 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};
const DURATION = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h)(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))*$/;
const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g;

/** Parses a Go duration string to integer nanoseconds. Throws with Go's wording on bad input. */
export function parseDuration(text: string): number {
  if (text === '0' || text === '+0' || text === '-0') return 0;
  if (!DURATION.test(text)) {
    throw new Error(`invalid duration ${JSON.stringify(text)} (expected e.g. 30s, 1m0s, 100ms, 1h2m3s)`);
  }
  let total = 0;
  for (const [, amount, unit] of text.matchAll(PART)) total += Number(amount) * UNIT_NS[unit!]!;
  return Math.round(text.startsWith('-') ? -total : total);
}

/** Parses a Go duration string to milliseconds (fractions kept). */
export function parseDurationMs(text: string): number {
  return parseDuration(text) / 1e6;
}

/** Formats nanoseconds the way Go's Duration.String() does: `30s`, `1m0s`, `1h0m0s`, `100ms`, `1.5µs`. */
export function formatDuration(ns: number): string {
  if (ns === 0) return '0s';
  const sign = ns < 0 ? '-' : '';
  const abs = Math.abs(Math.round(ns));
  if (abs < 1e3) return `${sign}${abs}ns`;
  if (abs < 1e6) return `${sign}${trimFraction(abs / 1e3)}µs`;
  if (abs < 1e9) return `${sign}${trimFraction(abs / 1e6)}ms`;
  const hours = Math.floor(abs / 3600e9);
  const minutes = Math.floor((abs % 3600e9) / 60e9);
  const seconds = trimFraction((abs % 60e9) / 1e9);
  if (hours > 0) return `${sign}${hours}h${minutes}m${seconds}s`;
  if (minutes > 0) return `${sign}${minutes}m${seconds}s`;
  return `${sign}${seconds}s`;
}

function trimFraction(value: number): string {
  return String(Number(value.toFixed(9)));
}

/** The JSON Schema of a duration field: a Go duration string. */
export const durationSchema = (description: string, defaultValue?: string) => ({
  type: 'string',
  format: 'duration',
  description,
  ...(defaultValue === undefined ? {} : { default: defaultValue }),
});
