// Sleeping until an instant, re-armed past setTimeout's limit, cut short by a signal.

/** Resolves true at `at` (epoch ms), or false as soon as `signal` aborts. */
export function sleepUntil(at: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const arm = (): void => {
      const remaining = at - Date.now();
      if (remaining <= 0) {
        signal.removeEventListener('abort', onAbort);
        resolve(true);
        return;
      }
      // setTimeout caps at ~24.8 days; a longer wait (a yearly schedule) re-arms.
      timer = setTimeout(arm, Math.min(remaining, 2 ** 31 - 1));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    arm();
  });
}
