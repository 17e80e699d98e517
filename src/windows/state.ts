// The ledger chores of a windowed input with `state` (input.ts): opening it, squaring it with the
// durable buffer, recording whole windows given up as gaps; each with its log line.

import type { Logger } from 'pino';
import type { Counter } from 'prom-client';
import type { BufferState } from '../engine/buffer_store.js';
import type { WindowingConfig } from './config.js';
import { WindowLedger, type PendingBatch } from './ledger.js';
import { iso } from './settle.js';
import type { WindowSource } from './source.js';

type StateConfig = NonNullable<WindowingConfig['state']>;

/** Opens the ledger at `file` for this source and schedule; warns when it was written with another schedule. */
export function openWindowLedger(file: string, state: StateConfig, config: WindowingConfig, source: WindowSource<unknown>, logger: Logger): WindowLedger {
  let ledger: WindowLedger;
  try {
    ledger = new WindowLedger({
      file,
      sync: state.sync,
      identity: { resourceType: source.type, schedule: config.schedule.text, offsetMs: config.offsetMs },
    });
  } catch (err) {
    throw new Error(`cannot open the ${source.component} state ${file}: ${(err as Error).message}`);
  }
  if (ledger.changes.length > 0) {
    logger.warn(
      { state: file, changes: ledger.changes },
      `${source.name} state was written with another schedule; windows continue from the last recorded one (the first may be shorter or longer), and ids of later windows differ from what the old schedule would have given`,
    );
  }
  return ledger;
}

/** Squares the ledger with the buffer; returns the batches the buffer lost, now pending again (none when the ledger could not be written). */
export function reconcileWithBuffer(ledger: WindowLedger, state: BufferState, logger: Logger, name: string): PendingBatch[] {
  let reopened: PendingBatch[];
  try {
    reopened = ledger.reconcile(state);
  } catch (err) {
    logger.error({ error: (err as Error).message, state: ledger.file }, `${name} could not square its state with the buffer; it tries again at the buffer's next progress`);
    return [];
  }
  if (reopened.length > 0) {
    logger.warn(
      { batches: reopened.length, messages: reopened.reduce((n, b) => n + b.messages.length, 0), buffer_committed: state.committed, state: ledger.file },
      `The buffer no longer holds ${name} batches it had committed (its file was torn, replaced or lost); they are sent again from the state`,
    );
  }
  return reopened;
}

/** Records whole windows given up as a gap: a row in the ledger, the skipped metric and an error line. */
export function recordMaxBackfillGap(
  ledger: WindowLedger,
  gap: { start: number; end: number; windows: number },
  now: number,
  state: StateConfig,
  report: { skipped: Counter; type: string; name: string; logger: Logger },
): void {
  ledger.recordGap({ ...gap, reason: 'max_backfill', detail: `ended more than max_backfill (${state.maxBackfillText}) before they could be scraped` });
  report.skipped.inc({ type: report.type, reason: 'max_backfill' }, gap.windows);
  report.logger.error(
    { windows: gap.windows, from: iso(gap.start), to: iso(gap.end), max_backfill: state.maxBackfillText, now: iso(now), state: ledger.file },
    `${report.name} windows skipped: they ended more than max_backfill before they could be scraped; their usage is not collected (recorded as a gap)`,
  );
}
