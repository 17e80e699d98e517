// Number and timestamp methods.
import { parseDuration } from '../../../config/duration.js';
import { params, type MethodSpec } from '../registry.js';
import { BloblangError, getNumber, getString, Timestamp, typeError } from '../values.js';
import { toInt } from './core.js';
import { formatLayout, parseLayout, RFC3339_NANO } from './golayout.js';

/** A timestamp from a timestamp, an RFC 3339 string or unix seconds (as Connect's IGetTimestamp). */
export function asTimestamp(v: unknown, from: string): Timestamp {
  if (v instanceof Timestamp) return v;
  if (typeof v === 'number') {
    const whole = Math.floor(v);
    return Timestamp.fromUnixNanos(BigInt(whole) * 1_000_000_000n + BigInt(Math.round((v - whole) * 1e9)));
  }
  if (typeof v === 'string') {
    try {
      return parseLayout(v, RFC3339_NANO);
    } catch (err) {
      throw new BloblangError(`${from}: ${(err as Error).message}`);
    }
  }
  throw typeError('timestamp', v, from);
}

/** Minutes east of UTC of a zone at an instant: "UTC", "Local", a fixed "+02:00" or an IANA name. */
export function zoneOffset(tz: string, at: number): number {
  if (tz === 'UTC' || tz === '' || tz === 'Z') return 0;
  if (tz === 'Local') return -new Date(at).getTimezoneOffset();
  const fixed = /^([+-])(\d{2}):?(\d{2})$/.exec(tz);
  if (fixed) return (fixed[1] === '-' ? -1 : 1) * (Number(fixed[2]) * 60 + Number(fixed[3]));
  let parts: Intl.DateTimeFormatPart[];
  try {
    parts = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' }).formatToParts(new Date(at));
  } catch {
    throw new BloblangError(`unknown time zone ${tz}`);
  }
  const get = (type: string) => Number(parts.find((p) => p.type === type)!.value);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return Math.round((asUtc - (at - (at % 1000))) / 60_000);
}

const inZone = (t: Timestamp, tz: unknown) => (tz === undefined ? t : new Timestamp(t.ms, t.subMsNanos, zoneOffset(String(tz), t.ms)));

const ISO8601 = /^P(?:(\d+(?:\.\d+)?)Y)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/** ISO 8601 durations (P1Y2M3W4DT5H6M7.5S) applied to a timestamp, calendar-aware as Go's AddDate. */
function addISO8601(t: Timestamp, text: string, sign: 1 | -1): Timestamp {
  const m = ISO8601.exec(text);
  if (!m || text === 'P' || text.endsWith('T')) throw new BloblangError(`failed to parse ISO 8601 duration ${JSON.stringify(text)}`);
  const [, y, mo, w, d, h, mi, s] = m.map((x) => (x === undefined ? 0 : Number(x)));
  const shifted = new Date(t.ms + t.offsetMinutes * 60_000);
  shifted.setUTCFullYear(shifted.getUTCFullYear() + sign * y!, shifted.getUTCMonth() + sign * mo!, shifted.getUTCDate() + sign * (d! + 7 * w!));
  const clockNs = BigInt(Math.round(((h! * 60 + mi!) * 60 + s!) * 1e9)) * BigInt(sign);
  const ms = shifted.getTime() - t.offsetMinutes * 60_000;
  return Timestamp.fromUnixNanos(BigInt(ms) * 1_000_000n + BigInt(t.subMsNanos) + clockNs, t.offsetMinutes);
}

const STRFTIME: Record<string, string> = {
  Y: '2006', y: '06', m: '01', d: '02', e: '_2', H: '15', I: '03', M: '04', S: '05', p: 'PM', b: 'Jan', B: 'January', h: 'Jan', a: 'Mon', A: 'Monday', j: '002', z: '-0700', Z: 'MST', f: '000000', L: '000', T: '15:04:05', D: '01/02/06', F: '2006-01-02', R: '15:04', '%': '%',
};
const strftimeToLayout = (format: string) => format.replace(/%(.)/g, (whole, c: string) => STRFTIME[c] ?? whole);

const unix = (divisor: bigint) => ({
  params: [],
  impl: (v: unknown, _a: unknown[], site: { label: string }) => {
    const n = asTimestamp(v, site.label).unixNanos;
    const q = n / divisor;
    return Number(n < 0n && q * divisor !== n ? q - 1n : q);
  },
});

export const TIME: Record<string, MethodSpec> = {
  round: {
    params: params('precision?'),
    impl: (v, [precision], site) => {
      const n = getNumber(v, site.label);
      if (precision !== undefined) {
        const f = 10 ** Number(precision);
        return (Math.sign(n) * Math.round(Math.abs(n) * f)) / f;
      }
      return Math.sign(n) * Math.round(Math.abs(n)) + 0;
    },
  },
  bitwise_and: { params: params('value'), impl: (v, [x], site) => Number(BigInt(toInt(v, site.label)) & BigInt(toInt(x, 'value'))) },
  bitwise_or: { params: params('value'), impl: (v, [x], site) => Number(BigInt(toInt(v, site.label)) | BigInt(toInt(x, 'value'))) },
  bitwise_xor: { params: params('value'), impl: (v, [x], site) => Number(BigInt(toInt(v, site.label)) ^ BigInt(toInt(x, 'value'))) },
  floor: { params: [], impl: (v, _a, site) => Math.floor(getNumber(v, site.label)) },
  ceil: { params: [], impl: (v, _a, site) => Math.ceil(getNumber(v, site.label)) },
  abs: { params: [], impl: (v, _a, site) => Math.abs(getNumber(v, site.label)) },
  pow: { params: params('exponent'), impl: (v, [e], site) => getNumber(v, site.label) ** getNumber(e, 'exponent') },
  log: { params: [], impl: (v, _a, site) => Math.log(getNumber(v, site.label)) },
  log10: { params: [], impl: (v, _a, site) => Math.log10(getNumber(v, site.label)) },
  parse_duration: {
    params: [],
    impl: (v, _a, site) => {
      const text = getString(v, site.label);
      try {
        return parseDuration(text);
      } catch {
        throw new BloblangError(`${site.label}: time: invalid duration ${JSON.stringify(text)}`);
      }
    },
  },
  parse_duration_iso8601: {
    params: [],
    // As Connect (rickb777/period's DurationApprox): a year is 365.2425 days, a month a twelfth of it.
    impl: (v, _a, site) => {
      const text = getString(v, site.label);
      const m = ISO8601.exec(text);
      if (!m || text === 'P' || text.endsWith('T')) throw new BloblangError(`${site.label}: failed to parse ISO 8601 duration ${JSON.stringify(text)}`);
      const [, y, mo, w, d, h, mi, sec] = m.map((x) => (x === undefined ? 0 : Number(x)));
      const seconds = y! * 31_556_952 + mo! * 2_629_746 + w! * 604_800 + d! * 86_400 + h! * 3_600 + mi! * 60 + sec!;
      return Math.round(seconds * 1e9);
    },
  },
  ts_parse: { params: params('format'), impl: (v, [format], site) => parseLayout(getString(v, site.label), String(format)) },
  // The deprecated names return the RFC 3339 text, not a timestamp.
  parse_timestamp: { params: params('format'), impl: (v, [format], site) => parseLayout(getString(v, site.label), String(format)).toJSON() },
  ts_strptime: { params: params('format'), impl: (v, [format], site) => parseLayout(getString(v, site.label), strftimeToLayout(String(format))) },
  parse_timestamp_strptime: { params: params('format'), impl: (v, [format], site) => parseLayout(getString(v, site.label), strftimeToLayout(String(format))).toJSON() },
  ts_format: {
    params: params('format?', 'tz?'),
    impl: (v, [format, tz], site) => formatLayout(inZone(asTimestamp(v, site.label), tz), format === undefined ? RFC3339_NANO : String(format)),
  },
  format_timestamp: {
    params: params('format?', 'tz?'),
    impl: (v, [format, tz], site) => formatLayout(inZone(asTimestamp(v, site.label), tz), format === undefined ? RFC3339_NANO : String(format)),
  },
  ts_strftime: {
    params: params('format', 'tz?'),
    impl: (v, [format, tz], site) => formatLayout(inZone(asTimestamp(v, site.label), tz), strftimeToLayout(String(format))),
  },
  format_timestamp_strftime: {
    params: params('format', 'tz?'),
    impl: (v, [format, tz], site) => formatLayout(inZone(asTimestamp(v, site.label), tz), strftimeToLayout(String(format))),
  },
  ts_tz: { params: params('tz'), impl: (v, [tz], site) => inZone(asTimestamp(v, site.label), tz) },
  ts_unix: unix(1_000_000_000n),
  ts_unix_milli: unix(1_000_000n),
  ts_unix_micro: unix(1_000n),
  ts_unix_nano: unix(1n),
  format_timestamp_unix: unix(1_000_000_000n),
  format_timestamp_unix_milli: unix(1_000_000n),
  format_timestamp_unix_micro: unix(1_000n),
  format_timestamp_unix_nano: unix(1n),
  ts_add_iso8601: { params: params('duration'), impl: (v, [d], site) => addISO8601(asTimestamp(v, site.label), String(d), 1) },
  ts_sub_iso8601: { params: params('duration'), impl: (v, [d], site) => addISO8601(asTimestamp(v, site.label), String(d), -1) },
  ts_sub: {
    params: params('t2'),
    impl: (v, [other], site) => Number(asTimestamp(v, site.label).unixNanos - asTimestamp(other, 'argument').unixNanos),
  },
  ts_round: {
    params: params('duration'),
    impl: (v, [d], site) => {
      const t = asTimestamp(v, site.label);
      const step = BigInt(Math.trunc(getNumber(d, 'duration')));
      if (step <= 0n) return t;
      const n = t.unixNanos;
      const r = ((n % step) + step) % step;
      const down = n - r;
      return Timestamp.fromUnixNanos(r + r < step ? down : down + step, t.offsetMinutes);
    },
  },
};
