// The `schedule` of the windowed inputs (`run_ai`, `prometheus`): what OpenMeter's collector accepts (robfig/cron with
// seconds and descriptors), computed with croner. Only tick times are computed here; the input
// owns the timer, so a window can be anchored to its nominal tick.

import { Cron } from 'croner';
import { formatDuration, parseDuration } from '../config/duration.js';

export interface Schedule {
  /** The schedule as written. */
  readonly text: string;
  /** The first nominal tick strictly after `after`, epoch ms. */
  next(after: number): number;
  /** The last nominal tick strictly before `before`, epoch ms. */
  previous(before: number): number;
}

// robfig/cron's descriptors, written as 6-field crons (seconds first).
const DESCRIPTORS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 0 1 1 *',
  '@annually': '0 0 0 1 1 *',
  '@monthly': '0 0 0 1 * *',
  '@weekly': '0 0 0 * * 0',
  '@daily': '0 0 0 * * *',
  '@midnight': '0 0 0 * * *',
  '@hourly': '0 0 * * * *',
};

/**
 * Compiles a schedule: a 6-field cron with seconds first (`*\/30 * * * * *`), a descriptor
 * (`@hourly`), or `@every <Go duration>`. Throws an Error saying what is wrong and what would be
 * right. Starts no timer.
 *
 * `@every D` ticks at multiples of D since the Unix epoch, so `@every 30s` ticks at :00 and :30
 * like `*\/30 * * * * *`, and a restart keeps the same window boundaries. As in robfig/cron, D is
 * truncated to whole seconds and at least 1s. Crons are evaluated in the process's local time
 * zone, as the reference's scheduler does.
 */
export function compileSchedule(text: string): Schedule {
  const every = /^@every\s+(\S+)$/.exec(text.trim());
  if (every) return everySchedule(text, every[1]!);
  const pattern = DESCRIPTORS[text.trim()] ?? text.trim();
  if (pattern.startsWith('@')) {
    throw new Error(`schedule ${JSON.stringify(text)} is not a known descriptor (use @every 30s, @hourly, @daily, @weekly, @monthly or @yearly)`);
  }
  const fieldCount = pattern.split(/\s+/).length;
  if (fieldCount !== 6) {
    throw new Error(`schedule ${JSON.stringify(text)} has ${fieldCount} fields; expected 6 with seconds first (e.g. "*/30 * * * * *") or "@every 30s"`);
  }
  let cron: Cron;
  try {
    cron = new Cron(pattern, { paused: true, mode: '6-part' });
  } catch (err) {
    throw new Error(`schedule ${JSON.stringify(text)} is not a valid cron: ${(err as Error).message.replace(/^CronPattern: /, '')}`);
  }
  if (cron.nextRun() === null) throw new Error(`schedule ${JSON.stringify(text)} never fires`);
  return {
    text,
    next(after) {
      const next = cron.nextRun(new Date(after));
      if (next === null) throw new Error(`schedule ${JSON.stringify(text)} has no tick after ${new Date(after).toISOString()}`);
      return next.getTime();
    },
    previous(before) {
      const [previous] = cron.previousRuns(1, new Date(before));
      if (previous === undefined) throw new Error(`schedule ${JSON.stringify(text)} has no tick before ${new Date(before).toISOString()}`);
      return previous.getTime();
    },
  };
}

function everySchedule(text: string, durationText: string): Schedule {
  let ns: number;
  try {
    ns = parseDuration(durationText);
  } catch (err) {
    throw new Error(`schedule ${JSON.stringify(text)}: ${(err as Error).message}`);
  }
  if (ns <= 0) throw new Error(`schedule ${JSON.stringify(text)}: the interval must be positive, got ${formatDuration(ns)}`);
  const stepMs = Math.max(1000, Math.floor(ns / 1e9) * 1000);
  return {
    text,
    next: (after) => (Math.floor(after / stepMs) + 1) * stepMs,
    previous: (before) => (Math.ceil(before / stepMs) - 1) * stepMs,
  };
}
