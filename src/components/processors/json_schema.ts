// Checks each message against a JSON Schema (Redpanda Connect's `json_schema` processor): a message
// that does not match is flagged, its body unchanged, with the error text Connect writes from
// gojsonschema's results, e.g. `(root) id is required` (one line per problem).
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { defineProcessor } from '../../engine/component.js';
import type { Message } from '../../engine/message.js';

interface JsonSchemaConfig {
  schema?: string;
  schema_path?: string;
}

export default defineProcessor<JsonSchemaConfig>({
  name: 'json_schema',
  pure: true,
  summary: 'Checks each message against a JSON Schema (draft-07); a message that does not match is flagged with why, its body unchanged.',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      schema: { type: 'string', description: 'The schema, as JSON text. Use either this or `schema_path`.' },
      schema_path: {
        type: 'string',
        pattern: '^file://',
        'x-expected': '"file://<path>"',
        description: 'The schema file, as a file:// URL; a relative path (file://./schema.json) is relative to the config file. Use either this or `schema`.',
      },
    },
  },
  example: { schema: '{"type":"object","required":["id"]}' },
  create(config, { baseDir, logger }) {
    const validate = compile(config, baseDir);
    const check = (message: Message): Message => {
      let value: unknown;
      try {
        value = message.json();
      } catch (err) {
        return message.withError(err as Error);
      }
      if (validate(value)) return message;
      const text = describe(validate.errors ?? [], value);
      logger.debug({ err: text }, 'The document is not valid.');
      return message.withError(new Error(text));
    };
    return {
      process: (batch) => (batch.length > 0 ? [batch.map(check)] : []),
      close: async () => {},
    };
  },
});

/** Compiles the configured schema once; any problem is a config error at its field. */
function compile(config: JsonSchemaConfig, baseDir: string): ValidateFunction {
  if ((config.schema === undefined) === (config.schema_path === undefined)) {
    throw Object.assign(new Error('either schema or schema_path must be provided (one of them)'), { field: '' });
  }
  let text: string;
  let field: string;
  let where = '';
  if (config.schema_path !== undefined) {
    field = 'schema_path';
    const path = filePath(config.schema_path, baseDir);
    where = ` ${path}`;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw Object.assign(new Error(`cannot read the schema file${where}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`), { field });
    }
  } else {
    field = 'schema';
    text = config.schema!;
  }
  let schema: unknown;
  try {
    schema = JSON.parse(text);
  } catch (err) {
    throw Object.assign(new Error(`the schema${where} is not JSON: ${(err as Error).message}`), { field });
  }
  try {
    return newAjv().compile(schema as object);
  } catch (err) {
    throw Object.assign(new Error(`the schema${where} is not a valid JSON Schema: ${(err as Error).message}`), { field });
  }
}

/** `file://./x.json` and `file://x.json` relative to the config, `file:///abs/x.json` absolute. */
function filePath(url: string, baseDir: string): string {
  const rest = url.slice('file://'.length);
  if (rest.startsWith('/')) return fileURLToPath(url);
  return isAbsolute(rest) ? rest : resolve(baseDir, decodeURIComponent(rest));
}

function newAjv(): Ajv {
  // gojsonschema checks these formats and ignores the others.
  const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true, logger: false, validateFormats: true });
  for (const [name, test] of Object.entries(FORMATS)) ajv.addFormat(name, { type: 'string', validate: test });
  return ajv;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME = /^(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const validDate = (s: string): boolean => {
  const m = DATE.exec(s);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return mo >= 1 && mo <= 12 && d >= 1 && d <= new Date(Date.UTC(y, mo, 0)).getUTCDate();
};
const validTime = (s: string): boolean => {
  const m = TIME.exec(s);
  if (!m) return false;
  const zone = m[5]!;
  const zoneOk = zone === 'Z' || (Number(zone.slice(1, 3)) < 24 && Number(zone.slice(4, 6)) < 60);
  return Number(m[1]) < 24 && Number(m[2]) < 60 && Number(m[3]) < 60 && zoneOk;
};
/** What Go's url.Parse refuses: control characters, bad %-escapes, a colon in the first segment of a relative reference; gojsonschema also refuses `\`. */
const uriReference = (s: string): boolean => {
  if (/[\x00-\x1f\x7f\\]/.test(s) || /%(?![0-9A-Fa-f]{2})/.test(s)) return false;
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(s);
  if (!scheme) return !/^[^/?#]*:/.test(s);
  return true;
};

/** The formats gojsonschema checks by default, as it checks them (Go's parsers), closely enough. */
const FORMATS: Record<string, (s: string) => boolean> = {
  'date-time': (s) => {
    const t = s.indexOf('T');
    return t === 10 && validDate(s.slice(0, 10)) && validTime(s.slice(11));
  },
  date: validDate,
  time: (s) => /^\d{2}:\d{2}:\d{2}(\.\d+)?$/.test(s) && validTime(`${s}Z`),
  uri: (s) => uriReference(s) && /^[A-Za-z][A-Za-z0-9+.-]*:/.test(s),
  'uri-reference': uriReference,
  iri: (s) => uriReference(s) && /^[A-Za-z][A-Za-z0-9+.-]*:/.test(s),
  'iri-reference': uriReference,
  uuid: (s) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s),
  email: (s) => /^[^\s@<>]+@[^\s@<>]+$/.test(s),
  'idn-email': (s) => /^[^\s@<>]+@[^\s@<>]+$/.test(s),
  hostname: (s) => s.length <= 255 && /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/.test(s),
  ipv4: (s) => /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(s),
  ipv6: (s) => s.includes(':') && /^[0-9A-Fa-f:.]+$/.test(s) && (s.match(/::/g) ?? []).length <= 1,
  regex: (s) => {
    try {
      new RegExp(s, 'u');
      return true;
    } catch {
      return false;
    }
  },
};

/** Connect's error text: per problem `<field> <description>` (gojsonschema's words, lower-cased but for the property name), one per line. */
export function describe(errors: readonly ErrorObject[], document: unknown): string {
  return errors
    .filter((e) => e.keyword !== 'if')
    .map((e) => {
      const { field, description, property } = problem(e, document);
      let text = description.toLowerCase();
      if (property !== undefined) text = property + (text.startsWith(property.toLowerCase()) ? text.slice(property.length) : text);
      return `${field} ${text}`;
    })
    .join('\n');
}

/** One ajv error as gojsonschema words it. */
function problem(e: ErrorObject, document: unknown): { field: string; description: string; property?: string } {
  const field = fieldOf(e.instancePath);
  const p = e.params as Record<string, any>;
  switch (e.keyword) {
    case 'required':
      return { field, description: `${p.missingProperty} is required`, property: String(p.missingProperty) };
    case 'type':
      return { field, description: `Invalid type. Expected: ${typeList(p.type)}, given: ${typeOf(valueAt(document, e.instancePath))}` };
    case 'minLength':
      return { field, description: `String length must be greater than or equal to ${p.limit}` };
    case 'maxLength':
      return { field, description: `String length must be less than or equal to ${p.limit}` };
    case 'pattern':
      return { field, description: `Does not match pattern '${p.pattern}'` };
    case 'format':
      return { field, description: `Does not match format '${p.format}'` };
    case 'enum':
      return { field, description: `${field} must be one of the following: ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}` };
    case 'const':
      return { field, description: `${field} does not match: ${JSON.stringify(p.allowedValue)}` };
    case 'additionalProperties':
      return { field, description: `Additional property ${p.additionalProperty} is not allowed`, property: String(p.additionalProperty) };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum': {
      const words = { minimum: 'greater than or equal to', maximum: 'less than or equal to', exclusiveMinimum: 'greater than', exclusiveMaximum: 'less than' }[e.keyword];
      return { field, description: `Must be ${words} ${p.limit}` };
    }
    case 'multipleOf':
      return { field, description: `Must be a multiple of ${p.multipleOf}` };
    case 'minItems':
      return { field, description: `Array must have at least ${p.limit} items` };
    case 'maxItems':
      return { field, description: `Array must have at most ${p.limit} items` };
    case 'uniqueItems':
      return { field, description: `array items[${p.j},${p.i}] must be unique` };
    case 'minProperties':
      return { field, description: `Must have at least ${p.limit} properties` };
    case 'maxProperties':
      return { field, description: `Must have at most ${p.limit} properties` };
    case 'anyOf':
      return { field, description: 'Must validate at least one schema (anyOf)' };
    case 'oneOf':
      return { field, description: 'Must validate one and only one schema (oneOf)' };
    case 'not':
      return { field, description: 'Must not validate the schema (not)' };
    case 'contains':
      return { field, description: 'At least one of the items must match' };
    case 'additionalItems':
      return { field, description: 'No additional items allowed on array' };
    case 'propertyNames':
      return { field, description: `Property "${p.propertyName}" does not match pattern`, property: String(p.propertyName) };
    case 'dependencies':
      return { field, description: `Has a dependency on ${p.deps}` };
    default:
      return { field, description: e.message ?? e.keyword };
  }
}

/** `/data/items/0` -> `data.items.0`; the document itself is `(root)`. */
function fieldOf(instancePath: string): string {
  if (instancePath === '') return '(root)';
  return instancePath
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}

function valueAt(document: unknown, instancePath: string): unknown {
  let value = document;
  if (instancePath === '') return value;
  for (const raw of instancePath.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
  }
  return value;
}

function typeList(type: string | string[]): string {
  return Array.isArray(type) ? (type.length === 1 ? type[0]! : `[${type.join(',')}]`) : String(type).includes(',') ? `[${type}]` : type;
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}
