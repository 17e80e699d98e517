import type { ComponentSpec, Kind, Schema } from '../engine/component.js';
import type { Registry } from '../engine/registry.js';
import { rootSchema } from './root.js';

const KINDS: readonly Kind[] = ['input', 'processor', 'output', 'rate_limit', 'cache'];

/**
 * The JSON Schema of a whole sluice config file, for editors (yaml-language-server) and the
 * committed `schemas/`. Child component slots become `$ref`s to one definition per kind.
 */
export function configJsonSchema(registry: Registry): Schema {
  const definitions: Record<string, Schema> = {};
  for (const kind of KINDS) {
    definitions[kind] = {
      description: `A ${kind.replace('_', ' ')}: exactly one of the keys below, plus label${kind === 'input' || kind === 'output' ? ' and processors' : ''}.`,
      anyOf: registry
        .all()
        .filter((spec) => spec.kind === kind)
        .map((spec) => componentSchema(spec)),
    };
  }
  return allowEnvReferences({
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'sluice pipeline',
    ...(resolveSlots(rootSchema) as Schema),
    definitions,
  }) as Schema;
}

/** A whole value that is a `${VAR}` reference: an editor sees the file before interpolation. */
const ENV_REFERENCE: Schema = {
  type: 'string',
  pattern: '^\\$\\{[^{}]+\\}$',
  description: 'An environment variable reference (${VAR} or ${VAR:default}), replaced before the config is read.',
};

/**
 * The schema with every number, boolean and constrained string also accepting a `${VAR}`
 * reference, as sluice does: `count: ${N:0}` is an integer once interpolated.
 */
function allowEnvReferences(schema: unknown): unknown {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return schema;
  const node = { ...(schema as Schema) };
  for (const key of ['properties', 'definitions']) {
    if (node[key]) node[key] = Object.fromEntries(Object.entries(node[key] as Schema).map(([k, v]) => [k, allowEnvReferences(v)]));
  }
  for (const key of ['items', 'additionalProperties']) if (typeof node[key] === 'object') node[key] = allowEnvReferences(node[key]);
  for (const key of ['anyOf', 'oneOf', 'allOf']) if (Array.isArray(node[key])) node[key] = (node[key] as unknown[]).map(allowEnvReferences);
  // Scalars only (a whole object or list as one reference is not something configs do), and
  // strings only where their text is constrained (a duration format, an enum, a pattern).
  const types = ([] as unknown[]).concat(node['type'] ?? []);
  const scalar = types.length > 0 && types.every((t) => t === 'integer' || t === 'number' || t === 'boolean' || t === 'null');
  const constrained = types.length === 1 && types[0] === 'string' && (node['format'] !== undefined || node['enum'] !== undefined || node['pattern'] !== undefined);
  if (!scalar && !constrained) return node;
  // Hover text and defaults stay on the outside, where editors look for them.
  const { description, default: defaultValue, ...rest } = node;
  return {
    ...(description === undefined ? {} : { description }),
    ...(defaultValue === undefined ? {} : { default: defaultValue }),
    anyOf: [rest, ENV_REFERENCE],
  };
}

/** The schema of one component's envelope: `{ <name>: config, label?, processors? }`. */
export function componentSchema(spec: ComponentSpec): Schema {
  const properties: Record<string, unknown> = {
    [spec.name]: { description: spec.summary, ...(resolveSlots(spec.schema) as Schema) },
    label: { type: 'string', pattern: '^([a-z0-9][a-z0-9_-]*)?$' },
  };
  if (spec.kind === 'input' || spec.kind === 'output') properties.processors = { type: 'array', items: { $ref: '#/definitions/processor' } };
  return { type: 'object', additionalProperties: false, required: [spec.name], properties };
}

function resolveSlots(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(resolveSlots);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'x-component') out.$ref = `#/definitions/${String(value)}`;
    else out[key] = key === 'default' || key === 'enum' || key === 'examples' ? value : resolveSlots(value);
  }
  return out;
}
