// Waiting for a state, not for time: a probe polled until it gives a value, with a generous deadline.

/**
 * Polls `probe` every `intervalMs` until it returns (or resolves to) a value other than
 * undefined; a probe that throws counts as "not yet". Rejects naming `what` past `timeoutMs`.
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000, intervalMs = 50): Promise<T> {
  return poll(what, () => Promise.resolve().then(probe).catch(() => undefined), timeoutMs, intervalMs);
}

/**
 * Polls `condition` every `intervalMs` until it is (or resolves to) true. Rejects naming `what`
 * past `timeoutMs` (by default under vitest's 30 s test timeout, so the named error is what a
 * stuck test reports); a condition that throws rejects at once with its error, so an `expect`
 * inside it fails the test.
 */
export async function waitUntil(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 20_000, intervalMs = 20): Promise<void> {
  await poll(what, async () => ((await condition()) ? true : undefined), timeoutMs, intervalMs);
}

async function poll<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, intervalMs: number): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`${what} not reached within ${timeoutMs}ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
