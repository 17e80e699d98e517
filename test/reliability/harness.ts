// The fault suite's harness: the shipped Run:ai -> OpenMeter pipeline (examples/openmeter-runai-full.yaml:
// run_ai, mappings/runai-workload.jsonata, sqlite buffer, http_client batching 100 + archive) with
// a window ledger, sped up to 1 s windows, against the Run:ai and OpenMeter simulators; and the
// oracle it is judged by, computed from the simulator's truth and the window grid alone.
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { expect } from 'vitest';
import { DEFAULT_METRICS } from '../../src/components/inputs/run_ai.js';
import type { Metrics } from '../../src/engine/metrics.js';
import type { RunResult } from '../../src/engine/pipeline.js';
import type { OpenMeterSimulator } from '../../src/openmeter/sim.js';
import { expectedMetrics, type RunAiSimulator } from '../../src/runai/sim.js';
import { preparePipeline, runPrepared } from '../../src/service.js';
import { startCli, type CliProcess } from '../support/cli.js';

export const EXAMPLE = fileURLToPath(new URL('../../examples/openmeter-runai-full.yaml', import.meta.url));
export const WINDOW_MS = 1000;
/** The example's metrics_offset, kept: windows end 30 s before their tick. */
export const OFFSET_MS = 30_000;
export const TOKEN = 'om_reliability_token';
/**
 * Seeds and size of the simulated cluster: 150 workloads, of which 105 are scrapeable, so a window
 * is more than one 100-event request. Small enough that several collectors at once keep up with
 * 1 s windows on a loaded 2-core machine (300 workloads each did not).
 */
export const CLUSTER = { seed: 7, workloads: 150 } as const;
/** Events per window: the workloads of CLUSTER that have usage (test/reliability checks it). */
export const SCRAPEABLE = 105;

export const tempDir = (): string => mkdtempSync(join(tmpdir(), 'sluice-reliability-'));

export interface CollectorOptions {
  readonly dir: string;
  readonly runai: RunAiSimulator;
  readonly openmeter: OpenMeterSimulator;
  /** `state.max_backfill`; default 1h. */
  readonly maxBackfill?: string;
  /** http_client `timeout`; the example's 30s, scaled to 5s (http_client's default) unless a scenario needs it shorter. */
  readonly sinkTimeout?: string;
  /** Extra `--set` overrides. */
  readonly set?: readonly string[];
}

/**
 * What the suite changes in the example, all as `--set` overrides: 1 s windows instead of 30 s, a
 * window ledger, and the output's retry timings scaled down (retry_period 15s -> 20ms,
 * max_retry_backoff 1m -> 200ms, timeout 30s -> 5s) so a fault costs milliseconds, not minutes.
 */
export function collectorSet(options: CollectorOptions): string[] {
  return [
    `input.run_ai.schedule="* * * * * *"`,
    `input.run_ai.state={path: ${JSON.stringify(join(options.dir, 'state.db'))}, max_backfill: ${options.maxBackfill ?? '1h'}}`,
    'output.drop_on.output.http_client.retry_period=20ms',
    'output.drop_on.output.http_client.max_retry_backoff=200ms',
    `output.drop_on.output.http_client.timeout=${options.sinkTimeout ?? '5s'}`,
    'shutdown_timeout=20s',
    ...(options.set ?? []),
  ];
}

/** The environment the example reads: both simulators, the token, and the buffer in the test's directory. */
export function collectorEnv(options: CollectorOptions): Record<string, string> {
  return {
    RUNAI_URL: options.runai.url,
    RUNAI_APP_ID: options.runai.credentials.id,
    RUNAI_APP_SECRET: options.runai.credentials.secret,
    OPENMETER_URL: options.openmeter.url,
    OPENMETER_TOKEN: TOKEN,
    SLUICE_BUFFER_PATH: join(options.dir, 'buffer.db'),
  };
}

export interface InProcessCollector {
  readonly metrics: Metrics;
  /** Stops as SIGTERM does (input first, then a drain) and resolves with the run's result. */
  stop(): Promise<RunResult>;
}

/** Runs the example in this process through the service layer, as `sluice run` does (no HTTP server, no logs). */
export function startInProcess(options: CollectorOptions): InProcessCollector {
  const prepared = preparePipeline(EXAMPLE, { env: collectorEnv(options), set: [...collectorSet(options), 'http.enabled=false'], quiet: true });
  if (!prepared.ready) throw new Error(prepared.problems.map((p) => `${p.path}: ${p.message}`).join('\n'));
  const stop = new AbortController();
  const running = runPrepared(prepared.ready, stop.signal);
  return {
    metrics: prepared.ready.metrics,
    stop: async () => {
      stop.abort();
      return running;
    },
  };
}

/** Runs the example with the real CLI, its HTTP server on a free port, logging at info (RELIABILITY_LOG_LEVEL=debug to see more). */
export function startCollectorCli(options: CollectorOptions): CliProcess {
  const set = [...collectorSet(options), 'http.address=127.0.0.1:0'].flatMap((s) => ['-s', s]);
  return startCli(['run', EXAMPLE, ...set, '--log.level', process.env['RELIABILITY_LOG_LEVEL'] ?? 'info'], collectorEnv(options));
}

// -- the ledger and buffer files, read as an operator would --------------------------------------

export interface LedgerState {
  readonly windows: { start: number; end: number; state: string; emitted: number; failed: number }[];
  readonly gaps: { start: number; end: number; windows: number; resource_id: string | null; reason: string }[];
  readonly outbox: number;
  readonly missing: number;
}

export function readLedger(dir: string): LedgerState {
  const db = new Database(join(dir, 'state.db'), { readonly: true, fileMustExist: true });
  try {
    return {
      windows: db.prepare('SELECT start_ms AS start, end_ms AS end, state, emitted, failed FROM windows ORDER BY start_ms').all() as LedgerState['windows'],
      gaps: db.prepare('SELECT start_ms AS start, end_ms AS end, windows, resource_id, reason FROM gaps ORDER BY id').all() as LedgerState['gaps'],
      outbox: (db.prepare('SELECT COUNT(*) AS n FROM outbox').get() as { n: number }).n,
      missing: (db.prepare('SELECT COUNT(*) AS n FROM missing').get() as { n: number }).n,
    };
  } finally {
    db.close();
  }
}

/** Windows the ledger marked done; 0 before the file exists. */
export function doneWindows(dir: string): number {
  try {
    const db = new Database(join(dir, 'state.db'), { readonly: true, fileMustExist: true });
    try {
      return (db.prepare("SELECT COUNT(*) AS n FROM windows WHERE state = 'done'").get() as { n: number }).n;
    } finally {
      db.close();
    }
  } catch {
    return 0;
  }
}

/** Messages committed to the sqlite buffer and not yet delivered; 0 before the file exists. */
export function bufferedMessages(dir: string): number {
  try {
    const db = new Database(join(dir, 'buffer.db'), { readonly: true, fileMustExist: true });
    try {
      return (db.prepare('SELECT COUNT(*) AS n FROM messages').get() as { n: number }).n;
    } catch {
      return 0;
    } finally {
      db.close();
    }
  } catch {
    return 0;
  }
}

// -- the oracle ------------------------------------------------------------------------------

const URL_NAMESPACE = '6ba7b811-9dad-11d1-80b4-00c04fd430c8';

/** RFC 9562 UUIDv5, written here so the oracle shares no code with the mapping environment. */
export function uuidV5(name: string, namespace = URL_NAMESPACE): string {
  const digest = createHash('sha1').update(Buffer.from(namespace.replace(/-/g, ''), 'hex')).update(name, 'utf8').digest();
  digest[6] = (digest[6]! & 0x0f) | 0x50;
  digest[8] = (digest[8]! & 0x3f) | 0x80;
  const hex = digest.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const isoSeconds = (ms: number): string => new Date(ms).toISOString().replace('.000Z', 'Z');

export interface ExpectedEvent {
  readonly subject: string;
  readonly time: string;
  readonly data: Record<string, number>;
}

/**
 * The events an exact collector sends for `windows` (1 s each) of the simulated cluster, keyed by
 * `source id`: one per scrapeable workload per window, its id the uuid v5 of cluster, resource
 * type, workload, window start and length (the shipped mapping's recipe, restated), and its usage
 * the billing formulas of the OpenMeter Run:ai doc applied to the simulator's true metric values.
 * Workloads in `exclude` (whose usage a scenario makes unbillable) have none.
 */
export function expectedEvents(runai: RunAiSimulator, windows: readonly number[], exclude: ReadonlySet<string> = new Set()): Map<string, ExpectedEvent> {
  const expected = new Map<string, ExpectedEvent>();
  const clusterId = runai.cluster.clusterId;
  const workloads = runai.scrapeableWorkloads().filter((w) => !exclude.has(w.id));
  const minutes = WINDOW_MS / 60_000;
  const gib = 1024 ** 3;
  for (const start of windows) {
    const end = start + WINDOW_MS;
    for (const w of workloads) {
      const v = expectedMetrics(w, DEFAULT_METRICS.workload, { start, end }).values;
      const gpus = v['GPU_ALLOCATION']!;
      const id = uuidV5(`${clusterId}|workload|${w.id}|${isoSeconds(start)}|1s`);
      expected.set(`run_ai ${id}`, {
        subject: w.projectName,
        time: isoSeconds(start),
        data: {
          workload_minutes: minutes,
          cpu_limit_core_minutes: v['CPU_LIMIT_CORES']! * minutes,
          cpu_request_core_minutes: v['CPU_REQUEST_CORES']! * minutes,
          cpu_usage_core_minutes: v['CPU_USAGE_CORES']! * minutes,
          cpu_memory_limit_gigabyte_minutes: (v['CPU_MEMORY_LIMIT_BYTES']! / gib) * minutes,
          cpu_memory_request_gigabyte_minutes: (v['CPU_MEMORY_REQUEST_BYTES']! / gib) * minutes,
          cpu_memory_usage_gigabyte_minutes: (v['CPU_MEMORY_USAGE_BYTES']! / gib) * minutes,
          gpu_allocation_minutes: gpus * minutes,
          gpu_usage_minutes: ((gpus * v['GPU_UTILIZATION']!) / 100) * minutes,
          gpu_memory_request_gigabyte_minutes: (v['GPU_MEMORY_REQUEST_BYTES']! / gib) * minutes,
          gpu_memory_usage_gigabyte_minutes: (v['GPU_MEMORY_USAGE_BYTES']! / gib) * minutes,
        },
      });
    }
  }
  return expected;
}

/** Window starts from `from` (inclusive) to `to` (exclusive), one per second. */
export function grid(from: number, to: number): number[] {
  const out: number[] = [];
  for (let t = from; t < to; t += WINDOW_MS) out.push(t);
  return out;
}

/** The top-level elements of a JSON array, as the exact bytes they had in the text. */
export function splitJsonArray(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let inString = false;
  let escaped = false;
  let begin = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') {
      inString = true;
    } else if (c === '[' || c === '{') {
      if (depth === 1 && begin < 0) begin = i;
      depth++;
    } else if (c === ']' || c === '}') {
      depth--;
      if (depth === 1 && begin >= 0 && c === '}') {
        out.push(text.slice(begin, i + 1));
        begin = -1;
      }
    }
  }
  return out;
}

export interface SinkNumbers {
  readonly requests: number;
  /** The most events one request carried. */
  readonly largestRequest: number;
  /** Event copies in every request body the sink received, whatever it answered. */
  readonly copiesReceived: number;
  /** Copies the sink ingested before dedupe (what OpenMeter with dedupe off would bill). */
  readonly ingested: number;
  /** Unique (source, id) stored after dedupe. */
  readonly unique: number;
}

/**
 * The checks every scenario ends with, after a final drain:
 * I1 the unique (source, id) the sink stored equal the oracle's set, exactly;
 * I2 every copy of an id in any request body is byte-identical;
 * I3 per-subject usage equals the oracle's. Sums are compared with a relative tolerance of 1e-9,
 *    only because floating-point addition depends on order (the sink and the oracle add the same
 *    numbers in different orders); event counts per subject are compared exactly.
 */
export function assertDelivered(openmeter: OpenMeterSimulator, expected: Map<string, ExpectedEvent>): SinkNumbers {
  const copies = new Map<string, Set<string>>();
  let copiesReceived = 0;
  let largestRequest = 0;
  for (const request of openmeter.requests) {
    if (request.method !== 'POST') continue;
    const events = splitJsonArray(request.body);
    largestRequest = Math.max(largestRequest, events.length);
    for (const text of events) {
      const event = JSON.parse(text) as { source: string; id: string };
      const key = `${event.source} ${event.id}`;
      copiesReceived++;
      let texts = copies.get(key);
      if (!texts) copies.set(key, (texts = new Set()));
      texts.add(text);
    }
  }
  const stored = openmeter.events.map((e) => `${e.source} ${e.id}`);
  const storedSet = new Set(stored);
  const missing = [...expected.keys()].filter((k) => !storedSet.has(k));
  const phantom = stored.filter((k) => !expected.has(k));
  expect({ missing: missing.length, phantom: phantom.length, firstMissing: missing.slice(0, 3), firstPhantom: phantom.slice(0, 3) }).toEqual({
    missing: 0,
    phantom: 0,
    firstMissing: [],
    firstPhantom: [],
  });
  expect(storedSet.size).toBe(stored.length);
  const differing = [...copies].filter(([, texts]) => texts.size > 1).map(([key]) => key);
  expect(differing).toEqual([]);
  for (const event of openmeter.events) {
    const want = expected.get(`${event.source} ${event.id}`)!;
    expect(event.subject).toBe(want.subject);
    expect(event.time).toBe(want.time);
  }
  const want: Record<string, { events: number; data: Record<string, number> }> = {};
  for (const e of expected.values()) {
    const entry = (want[e.subject] ??= { events: 0, data: {} });
    entry.events++;
    for (const [k, v] of Object.entries(e.data)) entry.data[k] = (entry.data[k] ?? 0) + v;
  }
  const got = openmeter.summary();
  expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
  for (const [subject, entry] of Object.entries(want)) {
    const actual = got[subject]!['workload']!;
    expect(actual.events).toBe(entry.events);
    for (const [key, value] of Object.entries(entry.data)) {
      const diff = Math.abs(actual.data[key]! - value);
      if (diff > 1e-9 * Math.max(1, Math.abs(value))) expect.fail(`${subject}.${key}: sink ${actual.data[key]} vs truth ${value}`);
    }
  }
  return { requests: openmeter.requests.length, largestRequest, copiesReceived, ingested: openmeter.deliveries.length, unique: openmeter.events.length };
}

/**
 * I4 and I6 on the ledger after the final drain: its windows chain without hole or overlap from
 * the first to the last, every one done, nothing left in the outbox or owed, and the windows plus
 * the gaps cover the grid exactly. Returns the grid's window starts that were delivered (gaps excluded).
 */
export function assertLedgerClean(dir: string, expectedGaps: { start: number; end: number }[] = []): { starts: number[]; first: number; last: number } {
  const ledger = readLedger(dir);
  expect(ledger.outbox).toBe(0);
  expect(ledger.missing).toBe(0);
  expect(ledger.windows.every((w) => w.state === 'done')).toBe(true);
  expect(ledger.windows.every((w) => w.end - w.start === WINDOW_MS)).toBe(true);
  // Whole windows given up; one-resource gaps (a workload of a delivered window) are the scenario's to check.
  const windowGaps = ledger.gaps.filter((g) => g.resource_id === null);
  expect(windowGaps.map((g) => ({ start: g.start, end: g.end }))).toEqual(expectedGaps);
  const first = ledger.windows[0]!.start;
  const last = ledger.windows[ledger.windows.length - 1]!.end;
  const gapStarts = new Set(windowGaps.flatMap((g) => grid(g.start, g.end)));
  const starts = grid(first, last).filter((s) => !gapStarts.has(s));
  expect(ledger.windows.map((w) => w.start)).toEqual(starts);
  expect(bufferedMessages(dir)).toBe(0);
  return { starts, first, last };
}

// -- reporting -------------------------------------------------------------------------------

export interface ScenarioReport {
  readonly scenario: string;
  readonly windows: number;
  readonly events: number;
  readonly requests: number;
  readonly largestRequest: number;
  readonly copiesReceived: number;
  readonly ingested: number;
  readonly unique: number;
  readonly ms: number;
  readonly notes?: string;
}

/** One line per scenario, printed by each test so a run's numbers can be quoted. */
export function report(r: ScenarioReport): void {
  const dup = r.ingested - r.unique;
  process.stdout.write(
    `[reliability] ${r.scenario}: ${r.windows} windows, ${r.events} expected events, ${r.requests} requests, ` +
      `${r.copiesReceived} copies received (largest request ${r.largestRequest}), ${r.ingested} ingested raw, ${r.unique} unique (${dup} duplicates raw, ${(100 * dup / Math.max(1, r.unique)).toFixed(2)}%), ` +
      `${(r.ms / 1000).toFixed(1)} s${r.notes ? `; ${r.notes}` : ''}\n`,
  );
}
