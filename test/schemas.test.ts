// schemas/ is generated from the components (`npm run schemas`); these tests fail when it is stale
// and check that every example is valid both for sluice and for an editor using that schema.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { registry } from '../src/components/index.js';
import { parseDuration } from '../src/config/duration.js';
import { runCli } from './support/cli.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SCHEMA_FILE = join(ROOT, 'schemas/sluice.schema.json');
const EXAMPLES = join(ROOT, 'examples');
/** What the Run:ai examples require, as a user exports it. */
const EXAMPLE_ENV = { RUNAI_URL: 'https://myorg.run.ai', RUNAI_APP_ID: 'app', RUNAI_APP_SECRET: 'secret', OPENMETER_TOKEN: 'om_token' };
const examples = readdirSync(EXAMPLES, { recursive: true, encoding: 'utf8' })
  .filter((f) => /\.ya?ml$/.test(f) && !/_sluice_test\.ya?ml$/.test(f))
  .sort();

/** Every `x-*` keyword used anywhere in `schema`. */
function extensionKeywords(schema: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(schema)) for (const item of schema) extensionKeywords(item, found);
  else if (schema !== null && typeof schema === 'object') {
    for (const [key, value] of Object.entries(schema)) {
      if (key.startsWith('x-')) found.add(key);
      if (key !== 'default' && key !== 'enum' && key !== 'examples') extensionKeywords(value, found);
    }
  }
  return found;
}

/**
 * Validates as an editor would: strict, but without applying defaults (ajv ignores `default`
 * inside anyOf branches, and strict mode says so). sluice's annotations (x-secret,
 * x-interpolated...) are declared as keywords; its formats are the Go duration syntax.
 */
function editorAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
  const schema = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as object;
  for (const keyword of extensionKeywords(schema)) ajv.addKeyword({ keyword });
  const isDuration = (text: string) => {
    try {
      parseDuration(text);
      return true;
    } catch {
      return false;
    }
  };
  ajv.addFormat('duration', { type: 'string', validate: isDuration });
  ajv.addFormat('duration-or-empty', { type: 'string', validate: (s: string) => s === '' || isDuration(s) });
  return ajv;
}

describe('schemas/sluice.schema.json', () => {
  it('equals `sluice list --format jsonschema` (run `npm run schemas` after changing a component)', async () => {
    const { code, stdout, stderr } = await runCli(['list', '--format', 'jsonschema']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(stdout);
  });

  it('keeps no x-component slot: each became a $ref to its kind', () => {
    const schema = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as object;
    expect([...extensionKeywords(schema)]).not.toContain('x-component');
    expect(() => editorAjv().compile(schema)).not.toThrow();
  });

  it('has one definition per component kind, listing every registered component', () => {
    const schema = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as { definitions: Record<string, { anyOf: { required: string[] }[] }> };
    for (const kind of ['input', 'processor', 'output'] as const) {
      const names = schema.definitions[kind]!.anyOf.map((s) => s.required[0]).sort();
      expect(names).toEqual(registry.names(kind));
    }
  });
});

describe('examples/', () => {
  it('holds at least one example', () => {
    expect(examples.length).toBeGreaterThan(0);
  });

  // The quickstart's streams name the cache of its resources file: linted with it (-r), as
  // `sluice streams -r` runs them.
  const resourcesFile = relative(process.cwd(), join(EXAMPLES, 'openmeter-quickstart/resources/dedupe-cache.yaml'));
  const resources = ['-r', resourcesFile];
  const files = examples.map((f) => relative(process.cwd(), join(EXAMPLES, f))).filter((f) => f !== resourcesFile);

  it('every example lints clean, without a warning, once its credentials are set', async () => {
    const { code, stderr } = await runCli(['lint', ...resources, ...files], EXAMPLE_ENV);
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  const exported = Object.keys(EXAMPLE_ENV).some((k) => process.env[k] !== undefined);
  it.skipIf(exported)('a required setting has no empty default: lint without the environment names the variables', async () => {
    const { code, stderr } = await runCli(['lint', ...resources, ...files]);
    expect(stderr.split('\n').filter(Boolean).sort()).toEqual([
      `${relative(process.cwd(), join(EXAMPLES, 'openmeter-runai-full.yaml'))}(1,1) required environment variables were not set: [RUNAI_URL RUNAI_APP_ID RUNAI_APP_SECRET OPENMETER_TOKEN]`,
      `${relative(process.cwd(), join(EXAMPLES, 'runai-stdout.yaml'))}(1,1) required environment variables were not set: [RUNAI_URL RUNAI_APP_ID RUNAI_APP_SECRET]`,
    ]);
    expect(code).toBe(1);
  });

  const validate = editorAjv().compile(JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as object);

  it.each(examples)('%s validates against the committed schema as an editor sees it, ${VAR} references unresolved', (file) => {
    // `count: ${N:0}` is a string to an editor: the schema accepts a reference wherever a value goes.
    const valid = validate(parse(readFileSync(join(EXAMPLES, file), 'utf8')) ?? {});
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });
});
