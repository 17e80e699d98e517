// `sluice create` for every component: the skeleton it prints is a config that validates and
// builds, with every default of the component's schema written out.
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createConfig, fieldsOf } from '../../src/commands/reference.js';
import { components } from '../../src/components/index.js';
import { preparePipelineText } from '../../src/service.js';

// `resource` refers to a resource defined elsewhere by its label: it has no standalone skeleton.
const names = (kind: string) => components.filter((c) => c.kind === kind && c.name !== 'resource').map((c) => c.name);

describe('sluice create', () => {
  it.each([
    ...names('input').map((input) => `${input}/stdout`),
    `generate/${names('processor').join('/')}/stdout`,
    ...names('output').map((output) => `generate/${output}`),
  ])('%s builds, every field with a default written out', (spec) => {
    const created = createConfig(spec);
    if ('error' in created) throw new Error(created.error);
    const prepared = preparePipelineText(created.yaml, 'created.yaml', { quiet: true, chilled: true, set: ['http.enabled=false'] });
    expect(prepared.problems.filter((p) => p.severity === 'error')).toEqual([]);
    const config = parse(created.yaml) as { input: Record<string, unknown>; output: Record<string, unknown> };
    for (const [kind, node] of [['input', config.input], ['output', config.output]] as const) {
      const [name, fields] = Object.entries(node)[0]!;
      const spec = components.find((c) => c.kind === kind && c.name === name)!;
      const example = (spec.example ?? {}) as Record<string, unknown>;
      for (const f of fieldsOf(spec.schema).filter((f) => !f.path.includes('.') && 'default' in f)) {
        const value = (fields as Record<string, unknown>)[f.path];
        // The example's value where it sets one; an object default ({}) is written out field by field.
        if (f.path in example) expect(value, `${name}.${f.path}`).toEqual(example[f.path]);
        else if (typeof f.default === 'object' && f.default !== null && !Array.isArray(f.default)) expect(value, `${name}.${f.path}`).toBeTypeOf('object');
        else expect(value, `${name}.${f.path}`).toEqual(f.default);
      }
    }
  });
});
