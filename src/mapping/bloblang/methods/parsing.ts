// Parsing methods: YAML, URLs (the fields of Go's url.URL), url-encoded forms and CSV (RFC 4180).
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { params, type MethodSpec } from '../registry.js';
import { BloblangError, bytesToString, cleanForOutput, encoder, getString, toText } from '../values.js';

const URL_PARTS = /^(?:([A-Za-z][A-Za-z0-9+.-]*):)?(?:\/\/([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$/;

function decodeComponent(text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new BloblangError(`parse ${JSON.stringify(text)}: invalid URL escape in the ${what}`);
  }
}

/** Go's url.Parse, as Bloblang's parse_url reports it. */
function parseUrl(text: string): Record<string, unknown> {
  const m = URL_PARTS.exec(text);
  if (!m) throw new BloblangError(`parse ${JSON.stringify(text)}: invalid URL`);
  const [, scheme = '', authority, rest = '', query, fragment] = m;
  const opaque = authority === undefined && scheme !== '' && !rest.startsWith('/') ? rest : '';
  const out: Record<string, unknown> = {
    scheme: scheme.toLowerCase(),
    opaque,
    host: '',
    path: opaque ? '' : decodeComponent(rest, 'path'),
    raw_path: '',
    raw_query: query ?? '',
    fragment: fragment === undefined ? '' : decodeComponent(fragment, 'fragment'),
    raw_fragment: '',
  };
  if (authority !== undefined) {
    const at = authority.lastIndexOf('@');
    out.host = at === -1 ? authority : authority.slice(at + 1);
    if (at !== -1) {
      const info = authority.slice(0, at);
      const colon = info.indexOf(':');
      out.user = colon === -1 ? { name: decodeComponent(info, 'user') } : { name: decodeComponent(info.slice(0, colon), 'user'), password: decodeComponent(info.slice(colon + 1), 'password') };
    }
  }
  return out;
}

/** RFC 4180 records (quoted fields with "" escapes, CRLF or LF line ends). */
function csvRecords(text: string, delimiter: string, lazyQuotes: boolean): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  const endField = () => {
    record.push(field);
    field = '';
  };
  while (i < text.length) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (c === '"') quoted = false;
      else field += c;
      i++;
      continue;
    }
    if (c === '"' && field === '') {
      quoted = true;
    } else if (c === '"' && !lazyQuotes) {
      throw new BloblangError(`record on line ${records.length + 1}: bare " in non-quoted field`);
    } else if (c === delimiter) {
      endField();
    } else if (c === '\n' || (c === '\r' && text[i + 1] === '\n')) {
      endField();
      records.push(record);
      record = [];
      if (c === '\r') i++;
    } else {
      field += c;
    }
    i++;
  }
  if (field !== '' || record.length > 0) {
    endField();
    records.push(record);
  }
  return records;
}

const asText = (v: unknown, from: string) => (v instanceof Uint8Array ? bytesToString(v) : getString(v, from));

export const PARSING: Record<string, MethodSpec> = {
  parse_yaml: {
    params: [],
    impl: (v, _a, site) => {
      try {
        return parseYaml(asText(v, site.label)) as unknown;
      } catch (err) {
        throw new BloblangError(`failed to parse value as YAML: ${(err as Error).message}`);
      }
    },
  },
  format_yaml: { params: [], impl: (v) => encoder.encode(stringifyYaml(cleanForOutput(v))) },
  parse_url: { params: [], impl: (v, _a, site) => parseUrl(asText(v, site.label)) },
  parse_form_url_encoded: {
    params: [],
    impl: (v, _a, site) => {
      const out: Record<string, unknown> = {};
      for (const [k, value] of new URLSearchParams(asText(v, site.label))) {
        const seen = out[k];
        out[k] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
      }
      return out;
    },
  },
  parse_csv: {
    params: params('parse_header_row?', 'delimiter?', 'lazy_quotes?'),
    impl: (v, [header, delimiter, lazy], site) => {
      const delim = delimiter === undefined ? ',' : toText(delimiter);
      if ([...delim].length !== 1) throw new BloblangError('delimiter value must be exactly one character');
      const records = csvRecords(asText(v, site.label), delim, lazy === true);
      if (records.length === 0) throw new BloblangError('zero records were parsed');
      if (header === false) return records;
      const [names, ...rows] = records;
      return rows.map((row, j) => {
        if (row.length !== names!.length) throw new BloblangError(`record on line ${j}: record mismatch with headers`);
        return Object.fromEntries(names!.map((name, k) => [name, row[k]]));
      });
    },
  },
};
