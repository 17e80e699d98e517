// The component contract, checked once for every registered component (STYLE.md habit 9): a
// component added to src/components/index.ts is covered here without touching this file.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { components, registry } from '../src/components/index.js';
import { loadPureProcessors } from '../src/components/pure_processors.js';
import { createAjv, loadConfigText } from '../src/config/load.js';
import { formatPath, formatProblem } from '../src/config/problems.js';
import { rootSchema, type ComponentNode } from '../src/config/root.js';
import { parsePath, PipelineBuilder } from '../src/engine/build.js';
import type { Builder, ChildOutput, ComponentSpec, Kind, Schema } from '../src/engine/component.js';
import { Metrics } from '../src/engine/metrics.js';
import { Secrets } from '../src/engine/secrets.js';
import type { Sink } from '../src/engine/sink.js';
import { testSettings } from './support/settings.js';

/** A config file holding `config` in the slot of a `kind`, and the config path of the component. */
function placed(kind: Kind, name: string, config: unknown): { yaml: string; path: (string | number)[] } {
  const node = { [name]: config };
  switch (kind) {
    case 'input':
      return { yaml: stringify({ input: node, output: { drop: {} } }), path: ['input', name] };
    case 'processor':
      return { yaml: stringify({ pipeline: { processors: [node] }, output: { drop: {} } }), path: ['pipeline', 'processors', 0, name] };
    case 'output':
      return { yaml: stringify({ output: node }), path: ['output', name] };
    case 'rate_limit':
    case 'cache':
      return { yaml: stringify({ [`${kind}_resources`]: [{ label: 'example', ...node }], output: { drop: {} } }), path: [`${kind}_resources`, 0, name] };
  }
}

/** The example as the engine would hand it to create(): validated by the real loader, defaults filled (children's too). */
function defaulted(spec: ComponentSpec): unknown {
  const { yaml, path } = placed(spec.kind, spec.name, spec.example);
  const loaded = loadConfigText(yaml, `${spec.name}.yaml`, { registry, env: {} });
  const errors = loaded.problems.filter((p) => p.severity === 'error');
  if (!loaded.config || errors.length > 0) throw new Error(`the example does not load:\n${errors.map(formatProblem).join('\n')}\n${yaml}`);
  let value: unknown = loaded.config;
  for (const key of path) value = (value as Record<string | number, unknown>)[key];
  return value;
}

/** A Builder backed by the engine's own PipelineBuilder, for components with child components. */
function engineBuilder(): { build: Builder; builder: PipelineBuilder } {
  const builder = new PipelineBuilder({
    registry,
    logger: pino({ level: 'silent' }),
    metrics: new Metrics(),
    secrets: new Secrets(),
    baseDir: process.cwd(),
    strict: false,
  });
  const asOutput = (sink: Sink): ChildOutput => ({
    connect: (signal) => sink.connect(signal),
    submit: (batch) => sink.submit(batch),
    flush: () => sink.flush(),
    async write(batch) {
      const submission = sink.submit(batch);
      await submission.accepted;
      await submission.delivered;
    },
    async close() {
      await sink.flush();
      await sink.close();
    },
  });
  return {
    builder,
    build: {
      processors: (configs, at) => builder.processors(configs as ComponentNode[], parsePath(at)),
      output: (config, at) => asOutput(builder.sink(config as ComponentNode, parsePath(at))),
      input: (config, at) => builder.input(config as ComponentNode, parsePath(at)).input,
      resource: (kind, label) => builder.resource(kind, label),
    },
  };
}

/**
 * Compiles a component schema as the loader does: with createAjv(), minus a root `default`, which
 * ajv's strict mode refuses and the loader applies itself when the component's value is empty.
 */
function compile(schema: Schema) {
  const { default: _rootDefault, ...compilable } = schema;
  return createAjv().compile(compilable);
}

const isObjectSchema = (s: Schema) =>
  s.type === 'object' || (Array.isArray(s.type) && s.type.includes('object')) || s.properties !== undefined;

/**
 * Every schema node below `schema` with its JSON path: properties, items, additionalProperties,
 * patternProperties, definitions and the combinators.
 */
function* walk(schema: unknown, at = '#'): Generator<[Schema, string]> {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return;
  const s = schema as Schema;
  yield [s, at];
  for (const key of ['properties', 'patternProperties', 'definitions', '$defs'] as const) {
    const children = s[key] as Record<string, unknown> | undefined;
    for (const [name, child] of Object.entries(children ?? {})) yield* walk(child, `${at}/${key}/${name}`);
  }
  for (const key of ['items', 'additionalProperties', 'not', 'if', 'then', 'else'] as const) {
    if (Array.isArray(s[key])) for (const [i, child] of (s[key] as unknown[]).entries()) yield* walk(child, `${at}/${key}/${i}`);
    else yield* walk(s[key], `${at}/${key}`);
  }
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
    for (const [i, child] of ((s[key] as unknown[] | undefined) ?? []).entries()) yield* walk(child, `${at}/${key}/${i}`);
  }
}

/**
 * Objects that would accept any key. A record with fixed `properties` must close itself with
 * `additionalProperties: false`; a map (no `properties`) must type its values with an
 * `additionalProperties` schema. Absent or `true` is open.
 */
function openObjects(schema: Schema): string[] {
  const open: string[] = [];
  for (const [node, at] of walk(schema)) {
    if (!isObjectSchema(node)) continue;
    const extra = node.additionalProperties;
    const closedRecord = extra === false;
    const typedMap = node.properties === undefined && typeof extra === 'object' && extra !== null;
    if (!closedRecord && !typedMap) open.push(at);
  }
  return open;
}

describe('the registry', () => {
  it('holds each kind/name once, named in lower_snake_case', () => {
    const keys = components.map((c) => `${c.kind}/${c.name}`);
    expect(new Set(keys).size).toBe(keys.length);
    for (const c of components) expect(c.name).toMatch(/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/);
  });

  it('lists every pure processor in pure_processors.ts, the only components a worker thread can build, each under its own name', async () => {
    const pure = components.filter((spec) => spec.pure === true).map((spec) => `${spec.kind}/${spec.name}`);
    const listed = await loadPureProcessors();
    expect(listed.map((spec) => `${spec.kind}/${spec.name}`).sort()).toEqual(pure.sort());
    // A worker loads a processor by its config key: the module under that name must be that processor.
    for (const spec of listed) expect((await loadPureProcessors([spec.name])).map((s) => s.name)).toEqual([spec.name]);
    expect(await loadPureProcessors(['http_client', 'archive'])).toEqual([]);
  });

  it('the root schema closes every object too', () => {
    expect(openObjects(rootSchema)).toEqual([]);
    expect(() => createAjv().compile(rootSchema)).not.toThrow();
  });
});

describe.each(components.map((spec) => [`${spec.kind} ${spec.name}`, spec] as const))('%s', (_, spec) => {
  it('has a one-sentence summary', () => {
    expect(spec.summary).toMatch(/^[A-Z].*\.$/s);
  });

  it('its schema compiles with the project’s ajv in strict mode', () => {
    expect(() => compile(spec.schema)).not.toThrow();
  });

  it('its example validates against its schema', () => {
    const validate = compile(spec.schema);
    const valid = validate(structuredClone(spec.example));
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  if ('default' in spec.schema) it('its root default (used for `name:` with no value) validates too', () => {
    const validate = compile(spec.schema);
    expect(validate(structuredClone(spec.schema.default))).toBe(true);
  });

  it('its example loads as a whole config file without problems', () => {
    const { yaml } = placed(spec.kind, spec.name, spec.example);
    const loaded = loadConfigText(yaml, 'example.yaml', { registry, env: {} });
    expect(loaded.problems.map(formatProblem)).toEqual([]);
    expect(loaded.config).toBeDefined();
  });

  if (isObjectSchema(spec.schema)) it('rejects an unknown key, reporting its config path', () => {
    const base = typeof spec.example === 'object' && spec.example !== null && !Array.isArray(spec.example) ? spec.example : {};
    const validate = compile(spec.schema);
    expect(validate({ ...base, not_a_field: 1 })).toBe(false);
    expect(validate.errors).toContainEqual(
      expect.objectContaining({ keyword: 'additionalProperties', instancePath: '', params: { additionalProperty: 'not_a_field' } }),
    );

    const { yaml, path } = placed(spec.kind, spec.name, { ...base, not_a_field: 1 });
    const loaded = loadConfigText(yaml, 'unknown.yaml', { registry, env: {} });
    expect(loaded.config).toBeUndefined();
    expect(loaded.problems).toContainEqual(
      expect.objectContaining({ path: formatPath([...path, 'not_a_field']), message: expect.stringMatching(/^unknown field/), severity: 'error' }),
    );
  });

  it('every object in its schema rejects unknown keys (additionalProperties: false, or typed map values)', () => {
    expect(openObjects(spec.schema)).toEqual([]);
  });

  it('create(defaulted example) -> close -> close works without connect, and opens nothing', async () => {
    const config = defaulted(spec);
    const { build, builder } = engineBuilder();
    const before = process.getActiveResourcesInfo();
    const component = spec.create(config, testSettings({ path: `test.${spec.name}`, build }));
    // Building compiles, connecting connects: no socket, timer or file handle may exist yet.
    expect(process.getActiveResourcesInfo()).toEqual(before);
    expect(builder.problems).toEqual([]);
    expect(typeof component.close).toBe('function');
    await component.close();
    await component.close();
    await builder.closeProcessors();
  });

  it('describes its properties (warning only)', () => {
    const undocumented: string[] = [];
    for (const [node, at] of walk(spec.schema)) {
      for (const [key, property] of Object.entries((node.properties as Record<string, Schema> | undefined) ?? {})) {
        // A child component slot is described by the child; an enum lists its own values.
        if (typeof property.description === 'string' && property.description !== '') continue;
        if (property['x-component'] !== undefined || Array.isArray(property.enum)) continue;
        undocumented.push(`${at}/properties/${key}`);
      }
    }
    if (undocumented.length > 0) console.warn(`${spec.kind} ${spec.name}: properties without a description: ${undocumented.join(', ')}`);
  });
});
