// Pacing shared by every request of an HTTP output: a Retry-After hold, a local rate limit, and
// abortable waits.
import type { RateLimit } from '../../engine/component.js';

/** A Retry-After shared by every request of the output: once a server asks to wait, no request goes out before then. */
export class RetryAfterGate {
  #notBefore = 0;

  /** Holds requests back until `ms` from now; true when that extends the current hold. */
  hold(ms: number): boolean {
    const until = Date.now() + ms;
    if (until <= this.#notBefore) return false;
    this.#notBefore = until;
    return true;
  }

  async wait(...signals: AbortSignal[]): Promise<void> {
    const wait = this.#notBefore - Date.now();
    if (wait > 0) await sleep(wait, ...signals);
  }
}

/**
 * Redpanda Connect's `local` rate limit: at most `count` accesses per fixed window of
 * `intervalMs`, shared by every request (and component) using it.
 */
export class LocalRateLimit implements RateLimit {
  #count: number;
  #intervalMs: number;
  #windowStart = 0;
  #used = 0;

  constructor(count: number, intervalMs: number) {
    this.#count = count;
    this.#intervalMs = intervalMs;
  }

  /** Resolves once allowed: true when it had to wait for a new window (the limit was triggered). */
  async access(signal: AbortSignal): Promise<boolean> {
    for (let waited = false; ; waited = true) {
      const now = Date.now();
      if (now - this.#windowStart >= this.#intervalMs) {
        this.#windowStart = now;
        this.#used = 0;
      }
      if (this.#used < this.#count) {
        this.#used++;
        return waited;
      }
      await sleep(this.#windowStart + this.#intervalMs - now, signal);
    }
  }

  async close(): Promise<void> {}
}

/** Retry-After as milliseconds: delay-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when absent or invalid. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}


export function throwIfAborted(...signals: AbortSignal[]): void {
  for (const signal of signals) {
    if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('write aborted');
  }
}

/** Waits `ms`; rejects with the abort reason when any signal aborts first. */
export function sleep(ms: number, ...signals: AbortSignal[]): Promise<void> {
  throwIfAborted(...signals);
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      for (const s of signals) s.removeEventListener('abort', onAbort);
      try {
        throwIfAborted(...signals);
      } catch (err) {
        reject(err);
      }
    };
    const timer = setTimeout(() => {
      for (const s of signals) s.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    for (const s of signals) s.addEventListener('abort', onAbort, { once: true });
  });
}

