// Waiting for a state, not for time: a probe polled until it gives a value, with a generous deadline.

/**
 * Polls `probe` every `intervalMs` until it returns (or resolves to) a value other than
 * undefined; a probe that throws counts as "not yet". Rejects naming `what` past `timeoutMs`.
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000, intervalMs = 50): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await Promise.resolve()
      .then(probe)
      .catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`${what} not reached within ${timeoutMs}ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
