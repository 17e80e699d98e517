// A dry run (`run --output stdout`) between two real runs of the shipped collector: it must not
// advance the real ledger nor drain the real buffer, so the next real run bills every window since
// the first, none skipped (issue 11: a dry run once marked windows done and they were never sent).
import { afterAll, describe, expect, it } from 'vitest';
import { startOpenMeterSimulator } from '../../src/openmeter/sim.js';
import { startRunAiSimulator } from '../../src/runai/sim.js';
import { startCli, type CliProcess } from '../support/cli.js';
import {
  CLUSTER,
  SCRAPEABLE,
  EXAMPLE,
  TOKEN,
  assertDelivered,
  assertLedgerClean,
  bufferedMessages,
  collectorEnv,
  collectorSet,
  doneWindows,
  expectedEvents,
  readLedger,
  report,
  startCollectorCli,
  tempDir,
  type CollectorOptions,
} from './harness.js';
import { waitUntil } from '../support/wait.js';

const closers: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  await Promise.all(closers.map((close) => close()));
});

function registered(proc: CliProcess): CliProcess {
  closers.push(async () => {
    if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
  });
  return proc;
}

async function stop(proc: CliProcess): Promise<number | null> {
  proc.child.kill('SIGTERM');
  return proc.exited;
}

describe('a dry run between real runs', () => {
  it('leaves the ledger and the buffer alone: the next real run delivers every window since the first', async () => {
    const began = Date.now();
    const runai = await startRunAiSimulator(CLUSTER);
    const sink = await startOpenMeterSimulator({ token: TOKEN });
    closers.push(() => runai.close(), () => sink.close());
    const dir = tempDir();
    const options: CollectorOptions = { dir, runai, openmeter: sink, set: ['shutdown_timeout=2s'] };

    // A real run: two windows delivered, then the sink goes down and a window waits in the buffer.
    let real = registered(startCollectorCli(options));
    await waitUntil('two windows delivered', () => doneWindows(dir) >= 2, 60_000);
    await sink.down();
    const delivered = doneWindows(dir);
    await waitUntil('a window buffered', () => doneWindows(dir) > delivered && bufferedMessages(dir) >= SCRAPEABLE, 60_000);
    expect(await stop(real)).toBe(0);
    const ledgerBefore = readLedger(dir);
    const bufferedBefore = bufferedMessages(dir);

    // The dry run: the same config with its output swapped, until it printed two windows.
    const dry = registered(startCli(['run', EXAMPLE, ...collectorSet(options).flatMap((s) => ['-s', s]), '-s', 'http.enabled=false', '--output', 'stdout'], collectorEnv(options)));
    await waitUntil('two windows printed', () => dry.stdout.split('\n').filter((l) => l.startsWith('{')).length >= 2 * SCRAPEABLE, 60_000);
    expect(await stop(dry)).toBe(0);
    expect(dry.stderr).toMatch(/Dry run \(--output stdout\): buffer and input state are kept apart from the config's, which are not touched\./);
    // Nothing of the real state moved: same windows, same resume point, the buffer as it was.
    expect(readLedger(dir)).toEqual(ledgerBefore);
    expect(bufferedMessages(dir)).toBe(bufferedBefore);

    // The next real run, with the sink back: the buffered window, then every window since.
    await sink.up();
    real = registered(startCollectorCli(options));
    const target = doneWindows(dir) + 3;
    await waitUntil('caught up', () => doneWindows(dir) >= target && bufferedMessages(dir) === 0, 60_000);
    expect(await stop(real)).toBe(0);

    const { starts } = assertLedgerClean(dir);
    const numbers = assertDelivered(sink, expectedEvents(runai, starts));
    report({ scenario: 'dry run between real runs', windows: starts.length, events: numbers.unique, ...numbers, ms: Date.now() - began, notes: `${bufferedBefore} messages buffered across the dry run; every window from the first to the last delivered` });
  }, 180_000);
});
