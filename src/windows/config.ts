// The windowing settings the windowed inputs share (`schedule`, the offset, `state`): their schema
// and their compiled form.

import { durationSchema, formatDuration, parseDuration } from '../config/duration.js';
import { compileSchedule, type Schedule } from './schedule.js';

/** The `state` section as written. */
export interface StateConfig {
  path: string;
  max_backfill: string;
  sync: 'off' | 'normal' | 'full';
}

/** The `state` schema, with `what` naming the outside system in its descriptions. */
export function stateSchema(what: string, file: string): Record<string, unknown> {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['path'],
    description:
      'A window ledger in SQLite that makes the input durable: scraped windows are stored until their batch is acked and sent again after a restart, ' +
      `windows missed while sluice was down are backfilled from ${what} with the same bounds (hence the same event ids), older ones are recorded as gaps, ` +
      `and resources whose fetch failed are retried for their window. Absent: windows live in memory only, as in OpenMeter's collector.`,
    properties: {
      path: { type: 'string', minLength: 1, 'x-state': true, description: `The SQLite file, relative to the config file's folder; one per ${file} input.` },
      max_backfill: durationSchema(
        `How far back missed windows are scraped after a restart or a long ${what} outage; older windows are recorded as gaps. Keep it within ${what}'s retention and below the sink's dedupe window.`,
        '1h',
      ),
      sync: {
        type: 'string',
        enum: ['off', 'normal', 'full'],
        default: 'normal',
        description: 'normal: survives a killed process; full: fsync per commit, survives power loss; off: neither guaranteed (as the sqlite buffer).',
      },
    },
  };
}

/** The windowing settings, compiled. */
export interface WindowingConfig {
  readonly schedule: Schedule;
  readonly offsetMs: number;
  /** The offset as Go prints it. */
  readonly offsetText: string;
  readonly state?: { readonly path: string; readonly maxBackfillMs: number; readonly maxBackfillText: string; readonly sync: 'off' | 'normal' | 'full' };
}

/** Compiles schedule, offset and state; throws naming the field (`offsetField`: the input's name for it). */
export function compileWindowing(schedule: string, offset: string, offsetField: string, state: StateConfig | undefined): WindowingConfig {
  const offsetNs = duration(offset, offsetField);
  let compiledState: WindowingConfig['state'];
  if (state) {
    const maxBackfillNs = duration(state.max_backfill, 'state.max_backfill');
    if (maxBackfillNs < 0) throw new Error(`state.max_backfill must not be negative, got ${state.max_backfill}`);
    compiledState = { path: state.path, maxBackfillMs: maxBackfillNs / 1e6, maxBackfillText: formatDuration(maxBackfillNs), sync: state.sync };
  }
  return {
    schedule: compileSchedule(schedule),
    offsetMs: offsetNs / 1e6,
    offsetText: formatDuration(offsetNs),
    ...(compiledState ? { state: compiledState } : {}),
  };
}

export function duration(text: string, field: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    throw new Error(`${field}: ${(err as Error).message}`);
  }
}

