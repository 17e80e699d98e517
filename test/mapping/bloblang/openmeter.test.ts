// OpenMeter's Bloblang mappings, run verbatim, against the JSONata versions in examples/: the same
// events on the same (generated) inputs, apart from the documented differences (the id).
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Message } from '../../../src/engine/message.js';
import { compileBloblangMapping, DELETED, NOTHING } from '../../../src/mapping/bloblang/index.js';
import { compileExpression } from '../../../src/mapping/environment.js';

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/bloblang/${name}`, import.meta.url), 'utf8');
const example = (name: string) => readFileSync(new URL(`../../../examples/${name}`, import.meta.url), 'utf8');
const jsonataMapping = (name: string) => (parse(example(name)) as { pipeline: { processors: { mapping?: string }[] } }).pipeline.processors[0]!.mapping!;
const sources = { now: () => new Date('2025-01-01T00:00:00Z'), uuidV4: () => '11111111-1111-4111-8111-111111111111' };

const compiledBloblang = new Map<string, ReturnType<typeof compileBloblangMapping>>();
const compiledJsonata = new Map<string, ReturnType<typeof compileExpression>>();

function runBloblang(source: string, body: unknown, metadata: Record<string, unknown>) {
  const message = Message.fromJSON(body, metadata);
  let mapping = compiledBloblang.get(source);
  if (!mapping) compiledBloblang.set(source, (mapping = compileBloblangMapping(source)));
  return mapping.execute({ message, batch: [message], index: 0 }, sources);
}

async function runJsonata(source: string, body: unknown, metadata: Record<string, unknown>) {
  const message = Message.fromJSON(body, metadata);
  let expression = compiledJsonata.get(source);
  if (!expression) compiledJsonata.set(source, (expression = compileExpression(source)));
  return expression.evaluate({ message, batch: [message], index: 0 });
}

const withoutId = (event: unknown) => {
  const { id: _id, ...rest } = JSON.parse(JSON.stringify(event)) as Record<string, unknown>;
  return rest;
};

const QUANTITIES = ['100m', '250m', '1', '2', '0.5', '1500m', '1Gi', '512Mi', '128974848', '129e6', '123Mi', '2k', '0'];
const quantity = fc.option(fc.constantFrom(...QUANTITIES), { nil: undefined });
const resources = fc.record(
  { cpu: quantity, memory: quantity, 'nvidia.com/gpu': fc.option(fc.constantFrom('1', '2', '4'), { nil: undefined }) },
  { requiredKeys: [] },
);
const pod = fc.record({
  metadata: fc.record({
    name: fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/),
    namespace: fc.constantFrom('default', 'team-a'),
    uid: fc.uuid(),
    annotations: fc.dictionary(
      fc.oneof(fc.constantFrom('openmeter.io/subject', 'data.openmeter.io/customer', 'data.openmeter.io/plan', 'other.io/x'), fc.stringMatching(/^data\.openmeter\.io\/[a-z]{1,8}$/)),
      fc.stringMatching(/^[a-z0-9-]{1,12}$/),
    ),
  }),
  spec: fc.record({
    containers: fc.array(fc.record({ name: fc.constant('c'), resources: fc.record({ requests: resources, limits: resources }, { requiredKeys: [] }) }), { minLength: 1, maxLength: 4 }),
  }),
});

describe('OpenMeter kubernetes-pod-exec-time preset (Bloblang, verbatim)', () => {
  const bloblang = fixture('kubernetes-pod-exec-time.blobl');
  const jsonata = jsonataMapping('openmeter-kubernetes-pod-exec-time.yaml');

  it('gives the same events as the JSONata version on generated pods (the id aside)', async () => {
    await fc.assert(
      fc.asyncProperty(pod, fc.constantFrom('15s', '30s', '1m0s', '10s'), async (p, interval) => {
        const meta = { schedule_interval: interval, schedule_time: '2025-01-01T00:00:15Z' };
        const blob = runBloblang(bloblang, p, meta);
        const jsn = await runJsonata(jsonata, p, meta);
        expect(blob.root).not.toBe(NOTHING);
        expect((blob.root as { id: string }).id).toBe(sources.uuidV4());
        expect(withoutId(blob.root)).toEqual(withoutId(jsn));
      }),
      { numRuns: 200 },
    );
  });

  it('computes the documented numbers: cores (not millicores) and per-second rates', () => {
    const p = {
      metadata: { name: 'seed-1', namespace: 'default', annotations: { 'openmeter.io/subject': 'customer-1', 'data.openmeter.io/plan': 'pro' } },
      spec: { containers: [{ resources: { requests: { cpu: '500m', memory: '1Gi' }, limits: { 'nvidia.com/gpu': '2' } } }, { resources: { requests: { cpu: '1' } } }] },
    };
    const { root } = runBloblang(bloblang, p, { schedule_interval: '30s', schedule_time: '2025-01-01T00:00:30Z' });
    expect(root).toMatchObject({
      subject: 'customer-1',
      time: '2025-01-01T00:00:30Z',
      data: {
        plan: 'pro',
        pod_name: 'seed-1',
        duration_seconds: 30,
        cpu_request_millicores: 1.5,
        cpu_request_millicores_per_second: 0.05,
        memory_request_bytes: 1073741824,
        gpu_limit_count: 2,
        gpu_limit_count_per_second: 2 / 30,
        cpu_limit_millicores: 0,
      },
    });
  });

  it('fails a pod without annotations, as Connect does (filter on null); the JSONata version bills it', async () => {
    const p = { metadata: { name: 'bare', namespace: 'default' }, spec: { containers: [{ resources: {} }] } };
    expect(() => runBloblang(bloblang, p, { schedule_interval: '15s', schedule_time: 't' })).toThrow(/failed assignment \(line 4\).*expected array or object value, got null/);
    expect(await runJsonata(jsonata, p, { schedule_interval: '15s', schedule_time: 't' })).toMatchObject({ subject: 'bare' });
  });
});

describe("OpenMeter's Run:ai doc mapping (the seed document's, with its three fixes)", () => {
  const bloblang = fixture('runai-fixed.blobl');
  const jsonata = jsonataMapping('openmeter-runai.yaml');
  const workload = JSON.parse(readFileSync(new URL('../../../mappings/testdata/workload.json', import.meta.url), 'utf8')) as Record<string, unknown>;
  const meta = { scrape_interval: '30s', resource_type: 'workload', window_start: '2025-01-01T11:59:30Z' };

  it("gives the doc's event for its example workload", () => {
    const { root } = runBloblang(bloblang, workload, meta);
    expect(root).toEqual({
      id: sources.uuidV4(),
      specversion: '1.0',
      type: 'workload',
      source: 'run_ai',
      time: '2025-01-01T11:59:30Z',
      subject: 'very-important-job',
      data: { tenant: 1001, project: '1', department: '1', cluster: '71f69d83-ba66-4822-adf5-55ce55efd210', type: 'runai-job', gpuAllocationMinutes: 0.75, cpuLimitCoreMinutes: 48 },
    });
  });

  it('gives the same events as the JSONata version on generated workloads (the id aside)', async () => {
    const number = fc.oneof(fc.integer({ min: 0, max: 512 }), fc.double({ min: 0, max: 512, noNaN: true }), fc.constant(null), fc.constant('8'));
    const generated = fc.record({
      name: fc.string({ maxLength: 10 }),
      tenantId: fc.integer({ min: 1, max: 9999 }),
      projectId: fc.string({ maxLength: 4 }),
      departmentId: fc.string({ maxLength: 4 }),
      clusterId: fc.uuid(),
      id: fc.uuid(),
      type: fc.constantFrom('runai-job', 'training'),
      allocatedResources: fc.record({ gpu: number }),
      metrics: fc.record({ values: fc.record({ CPU_LIMIT_CORES: number }, { requiredKeys: [] }) }),
    });
    await fc.assert(
      fc.asyncProperty(generated, fc.constantFrom('30s', '1m0s', '15s'), async (w, interval) => {
        const m = { ...meta, scrape_interval: interval };
        const blob = runBloblang(bloblang, w, m);
        const jsn = await runJsonata(jsonata, w, m);
        // The doc's number(0) reads "8" as 8; the JSONata twin counts only numbers.
        const strings = w.allocatedResources.gpu === '8' || w.metrics.values.CPU_LIMIT_CORES === '8';
        if (strings) return;
        expect(withoutId(blob.root)).toEqual(withoutId(jsn));
      }),
      { numRuns: 200 },
    );
  });

  it('reads a bare name as this.<name>: unfixed, the data fields are null (bills zero)', () => {
    const unfixed = fixture('runai-fixed.blobl').replace('$gpu_allocation_minutes', 'gpu_allocation_minutes');
    const { root } = runBloblang(unfixed, workload, meta);
    expect((root as { data: Record<string, unknown> }).data.gpuAllocationMinutes).toBeNull();
  });
});

describe("OpenMeter's http-server and quickstart mappings (verbatim)", () => {
  it('answers a failed event with a problem document and the 400 metadata', () => {
    const message = Message.fromJSON({ id: 'x' }, { 'Content-Type': 'text/plain' }).withError(new Error('missing specversion'));
    const result = compileBloblangMapping(fixture('http-server-bad-request.blobl')).execute({ message, batch: [message], index: 0 }, sources);
    expect(result.root).toEqual({ type: 'about:blank', title: 'Bad Request', status: 400, detail: 'invalid event: missing specversion' });
    expect(result.meta).toEqual({ 'Content-Type': 'text/plain', http_status_code: '400', content_type: 'application/problem+json' });
  });

  it('names the unexpected Content-Type', () => {
    const message = Message.fromBytes('not json', { 'Content-Type': 'text/csv' });
    const result = compileBloblangMapping(fixture('quickstart-content-type.blobl')).execute({ message, batch: [message], index: 0 }, sources);
    expect(result.root).toMatchObject({ status: 400, detail: 'request body has an error: header Content-Type has unexpected value "text/csv"' });
    expect(result.meta).toMatchObject({ http_response_status: '400' });
  });

  it('drops a message with root = deleted(), and keeps the body when only meta is set', () => {
    const message = Message.fromJSON({ a: 1 });
    const run = (source: string) => compileBloblangMapping(source).execute({ message, batch: [message], index: 0 }, sources);
    expect(run('root = deleted()').root).toBe(DELETED);
    const onlyMeta = run('meta http_status_code = "204"');
    expect(onlyMeta.root).toBe(NOTHING);
    expect(onlyMeta.meta).toEqual({ http_status_code: '204' });
  });
});
