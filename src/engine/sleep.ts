/**
 * Resolves after `ms`, or early when any of `signals` aborts. Never rejects. Several signals are
 * listened to directly: AbortSignal.any() costs tens of µs per call in Node 20 and keeps every
 * composite alive in its sources until GC, too much for a per-read wait.
 *
 * A wait of 0 or less still yields to I/O once (setImmediate) without the 1 ms a zero
 * setTimeout costs: a source read as fast as possible is neither paced by the timer clamp nor
 * allowed to starve the event loop.
 */
export function sleep(ms: number, ...signals: (AbortSignal | undefined)[]): Promise<void> {
  return new Promise((resolve) => {
    if (signals.some((signal) => signal?.aborted)) return resolve();
    if (ms <= 0) {
      setImmediate(resolve);
      return;
    }
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      for (const signal of signals) signal?.removeEventListener('abort', done);
      resolve();
    }
    for (const signal of signals) signal?.addEventListener('abort', done, { once: true });
  });
}
