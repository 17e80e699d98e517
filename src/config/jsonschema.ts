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
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'sluice pipeline',
    ...(resolveSlots(rootSchema) as Schema),
    definitions,
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
