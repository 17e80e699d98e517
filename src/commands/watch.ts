// `run -w/--watch`: the pipeline is rebuilt when its config (or a -r resources file) changes. A
// broken edit is reported and the running pipeline keeps going, as Redpanda Connect's watcher
// does; a good one stops the running pipeline gracefully and starts the new one.
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { formatProblem } from '../config/problems.js';
import type { RunResult } from '../engine/pipeline.js';
import { preparePipeline, runPrepared, type PrepareOptions, type Prepared } from '../service.js';

/** How long a burst of file events is let settle before the config is read again. */
const SETTLE_MS = 100;

/**
 * Runs `prepared` until `stop` aborts or the input ends, rebuilding it from `file` whenever that
 * file or one of `options.resources` changes. Resolves with the last pipeline's result.
 */
export async function runWatched(file: string, options: PrepareOptions, prepared: NonNullable<Prepared['ready']>, stop: AbortSignal): Promise<RunResult> {
  const watched = [file, ...(options.resources ?? [])].map((f) => resolve(f));
  let changed: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const watchers: FSWatcher[] = [...new Set(watched.map((f) => dirname(f)))].map((dir) =>
    watch(dir, (_event, name) => {
      if (name !== null && !watched.some((f) => dirname(f) === dir && basename(f) === name.toString())) return;
      clearTimeout(timer);
      timer = setTimeout(() => changed?.(), SETTLE_MS);
    }),
  );
  let ready = prepared;
  try {
    for (;;) {
      const reload = new AbortController();
      const onStop = () => reload.abort();
      stop.addEventListener('abort', onStop, { once: true });
      const running = runPrepared(ready, reload.signal);
      let next: NonNullable<Prepared['ready']> | undefined;
      // Waits for a change that builds, or for the run to end.
      const ended = running.then(() => true);
      for (;;) {
        const change = new Promise<false>((resolveChange) => (changed = () => resolveChange(false)));
        if (await Promise.race([ended, change])) break;
        const candidate = preparePipeline(file, options);
        for (const p of candidate.problems) process.stderr.write(`${formatProblem(p)}\n`);
        if (candidate.ready) {
          next = candidate.ready;
          break;
        }
        ready.logger.error({ problems: candidate.problems.length }, 'Rejecting the updated config, the running pipeline goes on.');
      }
      changed = undefined;
      if (next) {
        ready.logger.info('The config changed, restarting the pipeline.');
        reload.abort();
      }
      const result = await running;
      stop.removeEventListener('abort', onStop);
      if (!next || stop.aborted) return result;
      ready = next;
    }
  } finally {
    clearTimeout(timer);
    for (const w of watchers) w.close();
  }
}
