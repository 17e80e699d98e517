// Go's reference-time layouts ("2006-01-02T15:04:05Z07:00"): formatting and parsing, for
// ts_format/ts_parse. Covers Go's layout elements; zone abbreviations parse as UTC unless they
// are UTC/GMT/Z.
import { BloblangError, Timestamp } from '../values.js';

type Chunk = { literal: string } | { std: string };

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

const STD = [
  'January', 'Jan', 'Monday', 'Mon', 'MST', '2006', '002', '01', '02', '03', '04', '05', '06', '15', '1', '2', '_2', '3', '4', '5', 'PM', 'pm',
  'Z07:00:00', 'Z070000', 'Z07:00', 'Z0700', 'Z07', '-07:00:00', '-070000', '-07:00', '-0700', '-07',
];

const layoutCache = new Map<string, Chunk[]>();

function chunks(layout: string): Chunk[] {
  let cached = layoutCache.get(layout);
  if (cached) return cached;
  const out: Chunk[] = [];
  let literal = '';
  for (let i = 0; i < layout.length; ) {
    const c = layout[i]!;
    if ((c === '.' || c === ',') && (layout[i + 1] === '0' || layout[i + 1] === '9')) {
      const digit = layout[i + 1]!;
      let j = i + 1;
      while (layout[j] === digit) j++;
      if (!/[0-9]/.test(layout[j] ?? '')) {
        if (literal) out.push({ literal });
        literal = '';
        out.push({ std: c + layout.slice(i + 1, j) });
        i = j;
        continue;
      }
    }
    const std = STD.find((s) => layout.startsWith(s, i) && !(s === 'Jan' && layout.startsWith('January', i)) && !(s === 'Mon' && layout.startsWith('Monday', i)));
    // "2006" wins over "2"; "01".."06" need their exact two digits.
    if (std !== undefined) {
      if (literal) out.push({ literal });
      literal = '';
      out.push({ std });
      i += std.length;
      continue;
    }
    literal += c;
    i++;
  }
  if (literal) out.push({ literal });
  if (layoutCache.size > 64) layoutCache.clear();
  layoutCache.set(layout, out);
  cached = out;
  return cached;
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

function offsetText(minutes: number, std: string): string {
  if (std.startsWith('Z') && minutes === 0) return 'Z';
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  const hh = pad(Math.floor(abs / 60), 2);
  const mm = pad(abs % 60, 2);
  const body = std.replace(/^Z/, '-');
  switch (body) {
    case '-07':
      return `${sign}${hh}`;
    case '-0700':
      return `${sign}${hh}${mm}`;
    case '-070000':
      return `${sign}${hh}${mm}00`;
    case '-07:00:00':
      return `${sign}${hh}:${mm}:00`;
    default:
      return `${sign}${hh}:${mm}`;
  }
}

export function formatLayout(t: Timestamp, layout: string): string {
  const d = new Date(t.ms + t.offsetMinutes * 60_000);
  const year = d.getUTCFullYear();
  const month = d.getUTCMonth();
  const day = d.getUTCDate();
  const hour = d.getUTCHours();
  const nanos = d.getUTCMilliseconds() * 1_000_000 + t.subMsNanos;
  let out = '';
  for (const chunk of chunks(layout)) {
    if ('literal' in chunk) {
      out += chunk.literal;
      continue;
    }
    const s = chunk.std;
    switch (s) {
      case 'January': out += MONTHS[month]; break;
      case 'Jan': out += MONTHS[month]!.slice(0, 3); break;
      case 'Monday': out += DAYS[d.getUTCDay()]; break;
      case 'Mon': out += DAYS[d.getUTCDay()]!.slice(0, 3); break;
      case 'MST': out += t.offsetMinutes === 0 ? 'UTC' : offsetText(t.offsetMinutes, '-0700'); break;
      case '2006': out += pad(year, 4); break;
      case '06': out += pad(year % 100, 2); break;
      case '01': out += pad(month + 1, 2); break;
      case '1': out += String(month + 1); break;
      case '02': out += pad(day, 2); break;
      case '2': out += String(day); break;
      case '_2': out += String(day).padStart(2, ' '); break;
      case '002': out += pad(Math.floor((Date.UTC(year, month, day) - Date.UTC(year, 0, 1)) / 86_400_000) + 1, 3); break;
      case '15': out += pad(hour, 2); break;
      case '03': out += pad(hour % 12 === 0 ? 12 : hour % 12, 2); break;
      case '3': out += String(hour % 12 === 0 ? 12 : hour % 12); break;
      case '04': out += pad(d.getUTCMinutes(), 2); break;
      case '4': out += String(d.getUTCMinutes()); break;
      case '05': out += pad(d.getUTCSeconds(), 2); break;
      case '5': out += String(d.getUTCSeconds()); break;
      case 'PM': out += hour >= 12 ? 'PM' : 'AM'; break;
      case 'pm': out += hour >= 12 ? 'pm' : 'am'; break;
      default:
        if (s[0] === '.' || s[0] === ',') {
          const digits = s.length - 1;
          let frac = pad(nanos, 9).slice(0, digits);
          if (s[1] === '9') {
            frac = frac.replace(/0+$/, '');
            out += frac ? s[0] + frac : '';
          } else {
            out += s[0] + frac;
          }
        } else {
          out += offsetText(t.offsetMinutes, s);
        }
    }
  }
  return out;
}

const FIELD: Record<string, string> = {
  January: `(${MONTHS.join('|')})`, Jan: `(${MONTHS.map((m) => m.slice(0, 3)).join('|')})`,
  Monday: `(?:${DAYS.join('|')})`, Mon: `(?:${DAYS.map((m) => m.slice(0, 3)).join('|')})`,
  MST: '([A-Z]{3,5}|[+-]\\d{4})', '2006': '(\\d{4})', '06': '(\\d{2})', '01': '(\\d{2})', '1': '(\\d{1,2})', '02': '(\\d{2})', '2': '(\\d{1,2})',
  '_2': ' ?(\\d{1,2})', '002': '(\\d{3})', '15': '(\\d{1,2})', '03': '(\\d{2})', '3': '(\\d{1,2})', '04': '(\\d{2})', '4': '(\\d{1,2})',
  '05': '(\\d{2})', '5': '(\\d{1,2})', PM: '(AM|PM)', pm: '(am|pm)',
};

/** Go's time.Parse: throws with Go's message shape when the text does not match the layout. */
export function parseLayout(text: string, layout: string): Timestamp {
  const parts = chunks(layout);
  let pattern = '^';
  const kinds: string[] = [];
  parts.forEach((chunk, index) => {
    if ('literal' in chunk) {
      pattern += chunk.literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      return;
    }
    const s = chunk.std;
    if (FIELD[s] !== undefined) {
      pattern += FIELD[s];
      if (FIELD[s]!.startsWith('(?:')) return;
      const next = parts[index + 1];
      // Go accepts a fraction after the seconds even when the layout has none.
      if ((s === '05' || s === '5') && !(next && 'std' in next && (next.std[0] === '.' || next.std[0] === ','))) {
        kinds.push(s);
        pattern += '(?:[.,](\\d+))?';
        kinds.push('.9');
        return;
      }
    } else if (s[0] === '.' || s[0] === ',') {
      pattern += s[1] === '9' ? '(?:[.,](\\d+))?' : `[.,](\\d{${s.length - 1}})`;
    } else {
      pattern += s.startsWith('Z') ? '(Z|[+-]\\d{2}(?::?\\d{2}(?::?\\d{2})?)?)' : '([+-]\\d{2}(?::?\\d{2}(?::?\\d{2})?)?)';
    }
    kinds.push(s);
  });
  const m = new RegExp(pattern + '$').exec(text);
  if (!m) throw new BloblangError(`parsing time ${JSON.stringify(text)} as ${JSON.stringify(layout)}: cannot parse`);
  let year = 1970, month = 0, day = 1, hour = 0, minute = 0, second = 0, nanos = 0, offset = 0, pm: boolean | undefined;
  kinds.forEach((k, i) => {
    const g = m[i + 1];
    if (g === undefined) return;
    switch (k) {
      case 'January': month = MONTHS.indexOf(g); break;
      case 'Jan': month = MONTHS.findIndex((x) => x.startsWith(g)); break;
      case '2006': year = Number(g); break;
      case '06': year = Number(g) + (Number(g) >= 69 ? 1900 : 2000); break;
      case '01': case '1': month = Number(g) - 1; break;
      case '02': case '2': case '_2': day = Number(g); break;
      case '15': case '03': case '3': hour = Number(g); break;
      case '04': case '4': minute = Number(g); break;
      case '05': case '5': second = Number(g); break;
      case 'PM': case 'pm': pm = g.toLowerCase() === 'pm'; break;
      case 'MST': offset = /^[+-]/.test(g) ? zoneMinutes(g) : 0; break;
      default:
        if (k[0] === '.' || k[0] === ',') nanos = Number(g.padEnd(9, '0').slice(0, 9));
        else offset = g === 'Z' ? 0 : zoneMinutes(g);
    }
  });
  if (pm !== undefined) hour = (hour % 12) + (pm ? 12 : 0);
  if (month < 0 || month > 11 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) {
    throw new BloblangError(`parsing time ${JSON.stringify(text)}: value out of range`);
  }
  const ms = Date.UTC(year, month, day, hour, minute, second) - offset * 60_000;
  return Timestamp.fromUnixNanos(BigInt(ms) * 1_000_000n + BigInt(nanos), offset);
}

function zoneMinutes(text: string): number {
  const digits = text.replace(/[^0-9]/g, '');
  const minutes = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || '0');
  return text.startsWith('-') ? -minutes : minutes;
}

export const RFC3339 = '2006-01-02T15:04:05Z07:00';
export const RFC3339_NANO = '2006-01-02T15:04:05.999999999Z07:00';
