// json_schema against the CloudEvents schema OpenMeter validates with, and its config errors.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import jsonSchema from '../../../src/components/processors/json_schema.js';
import type { Processor } from '../../../src/engine/component.js';
import { Message } from '../../../src/engine/message.js';
import { withDefaults } from '../../support/defaults.js';
import { testSettings } from '../../support/settings.js';

const fixtures = fileURLToPath(new URL('../../fixtures/openmeter/', import.meta.url));
const build = (config: unknown, baseDir = fixtures): Processor => jsonSchema.create(withDefaults(jsonSchema, config), testSettings({ baseDir }));
const cloudEvents = () => build({ schema_path: 'file://./cloudevents.spec.json' });
const valid = { specversion: '1.0', id: 'e-1', source: 'my-app', type: 'request', subject: 'customer-1', time: '2024-01-01T10:00:00.123Z', data: { n: 1 } };

async function check(processor: Processor, body: unknown): Promise<string | undefined> {
  const input = typeof body === 'string' ? Message.fromBytes(body) : Message.fromJSON(body);
  const out = (await processor.process([input]))[0]?.[0];
  // The body is never changed.
  expect(out!.text()).toBe(input.text());
  return out!.error?.message;
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('json_schema', () => {
  it('passes a valid CloudEvent unflagged', async () => {
    expect(await check(cloudEvents(), valid)).toBeUndefined();
  });

  it("flags what fails with Connect's words: `<field> <description>`, one line per problem", async () => {
    const p = cloudEvents();
    const { id: _id, ...noId } = valid;
    expect(await check(p, noId)).toBe('(root) id is required');
    expect(await check(p, { ...valid, id: '' })).toBe('id string length must be greater than or equal to 1');
    expect(await check(p, { ...valid, specversion: 1 })).toBe('specversion invalid type. expected: string, given: integer');
    expect(await check(p, { ...valid, time: 'yesterday' })).toBe("time does not match format 'date-time'");
    expect(await check(p, { ...valid, subject: null })).toBeUndefined();
    expect(await check(p, [valid])).toBe('(root) invalid type. expected: object, given: array');
    const { id: _i, source: _s, ...two } = valid;
    expect((await check(p, two))?.split('\n').sort()).toEqual(['(root) id is required', '(root) source is required']);
  });

  it('keeps the case of a property name in the lower-cased text, as Connect does', async () => {
    const p = build({ schema: JSON.stringify({ type: 'object', required: ['eventID'], additionalProperties: false, properties: { eventID: {} } }) });
    // Connect prefixes the property to the lower-cased description and trims it where the
    // description starts with it; where it does not (additionalProperties), the two run together.
    expect(await check(p, { Other: 1, eventID: 'x' })).toBe('(root) Otheradditional property other is not allowed');
    expect(await check(p, {})).toBe('(root) eventID is required');
  });

  it('flags a body that is not JSON', async () => {
    expect(await check(cloudEvents(), '{not json')).toMatch(/failed to parse message as JSON/);
  });

  it('schema_path is relative to the config directory; a bad file is a config error naming the path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-schema-'));
    dirs.push(dir);
    expect(() => build({ schema_path: 'file://./missing.json' }, dir)).toThrow(`cannot read the schema file ${join(dir, 'missing.json')}: ENOENT`);
    writeFileSync(join(dir, 'bad.json'), '{"type": 12}');
    expect(() => build({ schema_path: 'file://bad.json' }, dir)).toThrow(`the schema ${join(dir, 'bad.json')} is not a valid JSON Schema`);
    writeFileSync(join(dir, 'text.json'), 'nope');
    expect(() => build({ schema_path: `file://${join(dir, 'text.json')}` }, '/')).toThrow(/is not JSON/);
    expect(() => build({})).toThrow(/either schema or schema_path/);
  });
});
