// `sluice list <component>` (every field of one component, from its schema) and `sluice create`
// (a config skeleton with every default written out, as `benthos create` prints).
import { stringify } from 'yaml';
import { components } from '../components/index.js';
import type { ComponentSpec, Kind, Schema } from '../engine/component.js';
import { didYouMean } from '../engine/registry.js';

/** One field of a component's config, flattened: `batching.count`. */
export interface FieldDoc {
  readonly path: string;
  readonly type: string;
  readonly required: boolean;
  readonly default?: unknown;
  readonly description: string;
}

/** Every field of a schema, nested objects flattened with dots, in schema order. */
export function fieldsOf(schema: Schema, prefix = ''): FieldDoc[] {
  const properties = (schema['properties'] ?? {}) as Record<string, Schema>;
  const required = new Set((schema['required'] ?? []) as string[]);
  const out: FieldDoc[] = [];
  for (const [name, field] of Object.entries(properties)) {
    const path = `${prefix}${name}`;
    out.push({
      path,
      type: typeOf(field),
      required: required.has(name),
      ...('default' in field ? { default: field['default'] } : {}),
      description: String(field['description'] ?? ''),
    });
    if (field['type'] === 'object' && field['properties']) out.push(...fieldsOf(field, `${path}.`));
  }
  return out;
}

function typeOf(field: Schema): string {
  if (field['x-component']) return `${String(field['x-component'])}${field['type'] === 'array' ? '[]' : ''}`;
  if (Array.isArray(field['enum'])) {
    const values = (field['enum'] as unknown[]).map((v) => JSON.stringify(v));
    return values.length <= 8 ? values.join(' | ') : `${values.slice(0, 3).join(' | ')} | ... (one of ${values.length})`;
  }
  if (field['format'] === 'duration' || field['format'] === 'duration-or-empty') return 'duration';
  const type = field['type'];
  if (type === 'array') {
    const items = (field['items'] ?? {}) as Schema;
    return `${items['x-component'] ? String(items['x-component']) : typeOf(items)}[]`;
  }
  if (Array.isArray(type)) return type.join(' | ');
  if (typeof type === 'string') return type;
  if (Array.isArray(field['oneOf']) || Array.isArray(field['anyOf'])) return ((field['oneOf'] ?? field['anyOf']) as Schema[]).map(typeOf).join(' | ');
  return 'any';
}

/** The components named `name` (an input and an output may share a name), or an error message. */
export function componentsNamed(name: string): ComponentSpec[] | string {
  const found = components.filter((c) => c.name === name);
  if (found.length > 0) return found;
  return `no component named ${JSON.stringify(name)}${didYouMean(name, components.map((c) => c.name))}; sluice list shows them all`;
}

/** `sluice list <component>`: its summary, then one block per field with type, default and description. */
export function componentReference(spec: ComponentSpec): string {
  const lines = [`${spec.name} (${spec.kind}): ${spec.summary}`, '', 'Fields:'];
  for (const f of fieldsOf(spec.schema)) {
    const facts = [f.type, f.required ? 'required' : undefined, 'default' in f ? `default ${JSON.stringify(f.default)}` : undefined].filter(Boolean).join(', ');
    lines.push(`  ${f.path} (${facts})`);
    if (f.description) lines.push(`      ${f.description}`);
  }
  lines.push('', 'Example:', ...stringify({ [spec.name]: spec.example }).trimEnd().split('\n').map((l) => `  ${l}`), '');
  return lines.join('\n');
}

/** A component's config with every default written out; required fields without one take the example's value. */
export function skeleton(spec: ComponentSpec): unknown {
  if (spec.schema['type'] !== 'object') return spec.example;
  return fill(spec.schema, (spec.example ?? {}) as Record<string, unknown>);
}

function fill(schema: Schema, example: Record<string, unknown>): Record<string, unknown> {
  const properties = (schema['properties'] ?? {}) as Record<string, Schema>;
  const required = new Set((schema['required'] ?? []) as string[]);
  const out: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(properties)) {
    if (name in example) out[name] = example[name];
    else if (field['type'] === 'object' && field['properties'] && (isEmptyObject(field['default']) || required.has(name))) out[name] = fill(field, {});
    else if ('default' in field) out[name] = field['default'];
    else if (required.has(name)) out[name] = '';
  }
  return out;
}

const isEmptyObject = (value: unknown): boolean => typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 0;

/** What a created config's `*_resources` hold for a `resource` component to name: to be replaced. */
const RESOURCE_PLACEHOLDER = { input: { stdin: {} }, processor: { mapping: '$' }, output: { drop: {} }, cache: { memory: {} }, rate_limit: { local: {} } } as const;

/**
 * `sluice create input/processor.../output`: a whole config, each named component with all its
 * fields, as YAML; or the problems with `spec`.
 */
export function createConfig(spec: string): { yaml: string } | { error: string } {
  const names = spec.split('/');
  if (names.length < 2) return { error: `create takes input/output or input/processor/.../output, not ${JSON.stringify(spec)}` };
  const pick = (name: string, kind: Kind): ComponentSpec | string => {
    const found = components.find((c) => c.kind === kind && c.name === name);
    if (found) return found;
    const known = components.filter((c) => c.kind === kind).map((c) => c.name);
    return `no ${kind} named ${JSON.stringify(name)}${didYouMean(name, known)} (${kind}s: ${known.join(', ')})`;
  };
  const input = pick(names[0]!, 'input');
  const output = pick(names[names.length - 1]!, 'output');
  const processors = names.slice(1, -1).filter((n) => n !== '').map((n) => pick(n, 'processor'));
  const problems = [input, ...processors, output].filter((p): p is string => typeof p === 'string');
  if (problems.length > 0) return { error: problems.join('\n') };
  const node = (c: ComponentSpec) => ({ [c.name]: skeleton(c) });
  const config: Record<string, unknown> = {
    input: node(input as ComponentSpec),
    pipeline: { processors: (processors as ComponentSpec[]).map(node) },
    output: node(output as ComponentSpec),
  };
  // A `resource`, or a field naming a resource (dedupe's `cache`), names a resource: the config
  // gets a placeholder under that label to replace.
  const placeholder = (kind: keyof typeof RESOURCE_PLACEHOLDER, label: unknown) => {
    const list = ((config[`${kind}_resources`] as { label: unknown }[] | undefined) ??= []);
    if (!list.some((r) => r.label === label)) list.push({ label, ...RESOURCE_PLACEHOLDER[kind] });
  };
  for (const c of [input, ...processors, output] as ComponentSpec[]) {
    const filled = skeleton(c);
    if (c.name === 'resource') placeholder(c.kind as keyof typeof RESOURCE_PLACEHOLDER, filled);
    for (const [field, schema] of Object.entries((c.schema['properties'] ?? {}) as Record<string, Schema>)) {
      const value = (filled as Record<string, unknown>)[field];
      if (typeof schema['x-resource'] === 'string' && typeof value === 'string' && value !== '') placeholder(schema['x-resource'] as keyof typeof RESOURCE_PLACEHOLDER, value);
    }
  }
  return { yaml: `# sluice create ${spec}: every field, with its default.\n${stringify(config)}` };
}
