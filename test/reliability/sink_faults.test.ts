// The Run:ai pipeline against a misbehaving OpenMeter, in-process: every fault the ingest API (or
// a gateway in front of it) can produce, with the assertions of harness.ts after a final drain.
// A 60 s outage is scaled to 5 s: what matters is that the buffer holds several windows and
// drains after recovery, not the length.
import { afterAll, describe, expect, it } from 'vitest';
import { startOpenMeterSimulator, type Fault, type OpenMeterSimulator, type OpenMeterSimulatorOptions } from '../../src/openmeter/sim.js';
import { startRunAiSimulator, type RunAiSimulator } from '../../src/runai/sim.js';
import { metricValue } from '../runai/helpers.js';
import {
  CLUSTER,
  SCRAPEABLE,
  OFFSET_MS,
  TOKEN,
  assertDelivered,
  assertLedgerClean,
  bufferedMessages,
  doneWindows,
  expectedEvents,
  report,
  startInProcess,
  tempDir,
} from './harness.js';
import { waitUntil } from '../support/wait.js';

const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  await Promise.all(closers.map((close) => close()));
});

async function simulators(openmeterOptions: OpenMeterSimulatorOptions): Promise<{ runai: RunAiSimulator; openmeter: OpenMeterSimulator }> {
  const runai = await startRunAiSimulator(CLUSTER);
  expect(runai.scrapeableWorkloads()).toHaveLength(SCRAPEABLE);
  const openmeter = await startOpenMeterSimulator({ token: TOKEN, ...openmeterOptions });
  closers.push(() => runai.close(), () => openmeter.close());
  return { runai, openmeter };
}

/** Runs the collector until `windows` windows are done (and `until` holds), stops it, drains, and checks I1-I4/I6. */
async function scenario(
  name: string,
  openmeterOptions: OpenMeterSimulatorOptions,
  windows: number,
  during?: (sims: { openmeter: OpenMeterSimulator; dir: string }) => Promise<string | void>,
  sinkTimeout?: string,
) {
  const began = Date.now();
  const { runai, openmeter } = await simulators(openmeterOptions);
  const dir = tempDir();
  const collector = startInProcess({ dir, runai, openmeter, ...(sinkTimeout ? { sinkTimeout } : {}) });
  const notes = await during?.({ openmeter, dir });
  await waitUntil(`${windows} windows done`, () => doneWindows(dir) >= windows, 40_000);
  const result = await collector.stop();
  expect(result.undelivered).toBe(0);
  const { starts, first } = assertLedgerClean(dir);
  // The first window is the one ending at the first tick after the collector started (less the offset).
  expect(first).toBeGreaterThanOrEqual(began - OFFSET_MS - 2000);
  expect(first).toBeLessThanOrEqual(began - OFFSET_MS + 3000);
  const expected = expectedEvents(runai, starts);
  const numbers = assertDelivered(openmeter, expected);
  // I5: a duplicate can only come from a request whose outcome the client could not know: an
  // attempt that got no response (timeout, reset) or a partial acceptance answered with a 500.
  const unanswered = await metricValue(collector.metrics, 'http_request_error');
  expect(numbers.ingested - numbers.unique).toBeLessThanOrEqual(unanswered * numbers.largestRequest + acceptedIn(openmeter, 'partial'));
  const counts = new Map<string, number>();
  for (const r of openmeter.requests) if (r.fault) counts.set(r.fault.type, (counts.get(r.fault.type) ?? 0) + 1);
  const faults = [...counts].map(([type, n]) => `${n} ${type}`);
  const noted = [faults.length > 0 ? `faults injected: ${faults.join(', ')}` : 'no fault injected', `${unanswered} client attempts without response`, notes].filter(Boolean).join('; ');
  report({ scenario: name, windows: starts.length, events: expected.size, ...numbers, ms: Date.now() - began, notes: noted });
  return { openmeter, numbers, metrics: collector.metrics };
}

const faulted = (openmeter: OpenMeterSimulator, type: Fault['type']) => openmeter.requests.filter((r) => r.fault?.type === type);
const acceptedIn = (openmeter: OpenMeterSimulator, type: Fault['type']) => faulted(openmeter, type).reduce((n, r) => n + r.accepted.length, 0);

describe.concurrent('the Run:ai pipeline against OpenMeter faults', () => {
  it('S0 golden run: no fault, every window exactly once', async () => {
    await scenario('S0 no fault', {}, 8);
  }, 60_000);

  it('S1 500 on 20% of requests: retried with the same bytes, nothing lost, nothing duplicated', async () => {
    const { openmeter, numbers } = await scenario('S1 500 on 20%', { seed: 11, rates: [{ rate: 0.2, fault: { type: 'status', status: 500 } }] }, 10);
    expect(faulted(openmeter, 'status').length).toBeGreaterThan(0);
    // A 500 before anything was accepted is unambiguous: refused copies are never ingested.
    expect(numbers.copiesReceived).toBeGreaterThan(numbers.ingested);
  }, 60_000);

  it('S2 429 with Retry-After: 1 on 10% of requests: the client waits as asked', async () => {
    const { openmeter, numbers } = await scenario('S2 429 + Retry-After 1s on 10%', { seed: 12, rates: [{ rate: 0.1, fault: { type: 'status', status: 429, retryAfter: 1 } }] }, 10);
    const throttled = faulted(openmeter, 'status');
    expect(throttled.length).toBeGreaterThan(0);
    // The throttled body is sent again, the same bytes, no sooner than Retry-After after the 429.
    // (The output holds every other request too; requests already in flight when the 429 came
    // can arrive after it, so only the retry itself is timed here.)
    for (const answer of throttled) {
      const retry = openmeter.requests.find((r) => r.seq > answer.seq && r.body === answer.body)!;
      expect(retry.receivedAt - answer.respondedAt!).toBeGreaterThanOrEqual(995);
    }
    expect(numbers.copiesReceived).toBeGreaterThan(numbers.ingested);
  }, 60_000);

  it('S3 timeouts after the sink accepted the batch (10%): duplicates only of those, byte-identical', async () => {
    // The client timeout is 1 s here (the example's 30 s scaled), so each hang costs a second.
    const { openmeter, numbers } = await scenario('S3 accept-then-hang on 10%', { seed: 13, rates: [{ rate: 0.1, fault: { type: 'timeout', accept: true } }] }, 10, undefined, '1s');
    const ambiguous = acceptedIn(openmeter, 'timeout');
    expect(ambiguous).toBeGreaterThan(0);
    // I5: raw duplicates never exceed the events whose acceptance the client could not know.
    expect(numbers.ingested - numbers.unique).toBeLessThanOrEqual(ambiguous);
    expect(numbers.ingested - numbers.unique).toBeGreaterThan(0);
  }, 60_000);

  it('S4 partial acceptance (first k events, then 500) on one request in eight: only those k are duplicated', async () => {
    // One request in eight (12.5%), each accepting a different k in [1, 99].
    const decide = ({ seq }: { seq: number }): Fault | undefined => (seq % 8 === 3 ? { type: 'partial', accept: 1 + ((seq * 37) % 99) } : undefined);
    const { openmeter, numbers } = await scenario('S4 partial accept on 12.5%', { decide }, 10);
    const ambiguous = acceptedIn(openmeter, 'partial');
    expect(faulted(openmeter, 'partial').length).toBeGreaterThan(0);
    expect(numbers.ingested - numbers.unique).toBeLessThanOrEqual(ambiguous);
  }, 60_000);

  it('S6 sink outage (60 s scaled to 5 s): the buffer holds the windows and drains after recovery', async () => {
    let peak = 0;
    let drainedMs = 0;
    await scenario('S6 5 s outage', {}, 12, async ({ openmeter, dir }) => {
      await waitUntil('two windows before the outage', () => doneWindows(dir) >= 2, 20_000);
      await openmeter.down();
      const downAt = Date.now();
      while (Date.now() - downAt < 5000) {
        peak = Math.max(peak, bufferedMessages(dir));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await openmeter.up();
      const upAt = Date.now();
      await waitUntil('buffer drained after the outage', () => bufferedMessages(dir) < SCRAPEABLE, 40_000);
      drainedMs = Date.now() - upAt;
      expect(peak).toBeGreaterThanOrEqual(4 * SCRAPEABLE);
      return `buffer peaked at ${peak} messages, drained ${(drainedMs / 1000).toFixed(1)} s after recovery`;
    });
  }, 90_000);
});
