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

/** A config problem at a field of the input, reported with the others (see FieldErrors). */
export interface FieldProblem {
  readonly field: string;
  readonly message: string;
}

/**
 * Compiles schedule, offset and state, pushing each problem onto `problems` at its field
 * (`offsetField`: the input's name for the offset); undefined when there was one.
 */
export function compileWindowing(schedule: string, offset: string, offsetField: string, state: StateConfig | undefined, problems: FieldProblem[]): WindowingConfig | undefined {
  const before = problems.length;
  const check = <T>(field: string, fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (err) {
      problems.push({ field, message: (err as Error).message });
      return undefined;
    }
  };
  const compiled = check('schedule', () => compileSchedule(schedule));
  const offsetNs = check(offsetField, () => parseDuration(offset)) ?? 0;
  // A negative offset ends windows in the future: partly filled values would be billed.
  if (offsetNs < 0) problems.push({ field: offsetField, message: `must not be negative, got ${offset}: a negative offset ends windows in the future, so partly filled values would be billed` });
  let compiledState: WindowingConfig['state'];
  if (state) {
    const maxBackfillNs = check('state.max_backfill', () => parseDuration(state.max_backfill)) ?? 0;
    if (maxBackfillNs <= 0) {
      problems.push({ field: 'state.max_backfill', message: `must be more than 0s, got ${state.max_backfill}: every window would be given up as a gap` });
    } else if (compiled !== undefined) {
      // Below one window, every window is older than max_backfill by the time it can be scraped: all of it would be gaps.
      const first = compiled.next(Date.now());
      const intervalNs = (compiled.next(first) - first) * 1e6;
      if (maxBackfillNs < intervalNs) {
        problems.push({
          field: 'state.max_backfill',
          message: `${state.max_backfill} is shorter than one window of the schedule (${formatDuration(intervalNs)}): every window would be given up as a gap`,
        });
      }
    }
    compiledState = { path: state.path, maxBackfillMs: maxBackfillNs / 1e6, maxBackfillText: formatDuration(maxBackfillNs), sync: state.sync };
  }
  if (problems.length > before || compiled === undefined) return undefined;
  return { schedule: compiled, offsetMs: offsetNs / 1e6, offsetText: formatDuration(offsetNs), ...(compiledState ? { state: compiledState } : {}) };
}

/** The time between two ticks of `schedule` (its first two from now), in ms. */
export function scheduleInterval(schedule: Schedule): number {
  const first = schedule.next(Date.now());
  return schedule.next(first) - first;
}

export function duration(text: string, field: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    throw new Error(`${field}: ${(err as Error).message}`);
  }
}

