// How many metrics requests the Run:ai client keeps in flight: a limit that adapts between a floor
// and a ceiling, the way TCP adapts its window (AIMD), so one setting serves a fast control plane
// and a throttled one.
//
// - While answers come back healthy and about as fast as the fastest recent ones, the limit grows:
//   by one per answer (it doubles each round trip) until the first sign of trouble, then by four
//   per round trip, up to `max`.
// - A 429 or 502-504 answer, a timeout or a broken connection halves it (at most once per round
//   trip: the requests already sent under the old limit answer the same way); never below `min`.
// - Answers that take more than `tolerance` times the baseline latency (the fastest answer of the
//   last ten seconds or so) shrink it by a tenth, once per round trip: the server, or this
//   process, is queueing, and more requests in flight would only queue longer.
//
// Tasks wait in a FIFO; a task holds its slot until it settles (retries included).

/** The floor, start and ceiling of an adaptive limit. */
export interface AdaptiveLimitOptions {
  readonly min: number;
  readonly max: number;
  /** Where the limit starts. Default min(max, 32). */
  readonly initial?: number;
  /** Answers slower than this many times the baseline shrink the limit. Default 2. */
  readonly tolerance?: number;
  /** The clock, ms. Default performance.now. */
  readonly now?: () => number;
}

/** What an answer tells the limit. */
export type Answer = 'ok' | 'throttled' | 'failed';

/** The baseline is the fastest answer of the current or the previous window of this length. */
const BASELINE_WINDOW_MS = 10_000;
/** Weight of each answer in the recent latency (an exponentially weighted average). */
const RECENT_WEIGHT = 0.05;

export class AdaptiveLimit {
  readonly min: number;
  readonly max: number;
  #limit: number;
  #tolerance: number;
  #now: () => number;
  #inFlight = 0;
  #waiting: (() => void)[] = [];
  #head = 0;
  /** No halving or shrinking before this time: the answers of the old limit are still coming in. */
  #calmUntil = 0;
  #recentMs: number | undefined;
  /** Below it the limit doubles each round trip; set where the limit was cut last. */
  #threshold = Infinity;
  #baseline = { currentMin: Infinity, previousMin: Infinity, windowStart: 0 };

  constructor(options: AdaptiveLimitOptions) {
    if (!Number.isInteger(options.min) || options.min < 1) throw new Error(`the least requests in flight must be a positive integer, got ${options.min}`);
    if (!Number.isInteger(options.max) || options.max < options.min) throw new Error(`the most requests in flight (${options.max}) must be an integer of at least ${options.min}`);
    this.min = options.min;
    this.max = options.max;
    this.#limit = Math.min(this.max, Math.max(this.min, options.initial ?? 32));
    this.#tolerance = options.tolerance ?? 2;
    this.#now = options.now ?? (() => performance.now());
    this.#baseline.windowStart = this.#now();
  }

  /** The requests allowed in flight now (whole). */
  get limit(): number {
    return Math.floor(this.#limit);
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Tasks waiting for a slot. */
  get waiting(): number {
    return this.#waiting.length - this.#head;
  }

  /**
   * Runs `task` once a slot is free (in arrival order) and resolves or rejects with it. The task
   * should check its own abort signal when it starts: a queued task is not removed on abort.
   */
  async run<T>(task: () => Promise<T>): Promise<T> {
    // A woken task's slot is taken for it by #wake, so no later arrival can take it first.
    if (this.#inFlight < this.limit && this.waiting === 0) this.#inFlight++;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await task();
    } finally {
      this.#inFlight--;
      this.#wake();
    }
  }

  /** Reports one answer: how long it took and what it said. */
  observe(latencyMs: number, answer: Answer): void {
    const now = this.#now();
    if (answer !== 'ok') {
      if (now >= this.#calmUntil) {
        this.#limit = Math.max(this.min, this.#limit / 2);
        this.#threshold = this.#limit;
        this.#calmUntil = now + Math.max(latencyMs, this.#recentMs ?? 0);
      }
      return;
    }
    this.#recordBaseline(latencyMs, now);
    this.#recentMs = this.#recentMs === undefined ? latencyMs : this.#recentMs + RECENT_WEIGHT * (latencyMs - this.#recentMs);
    const baseline = Math.min(this.#baseline.currentMin, this.#baseline.previousMin);
    if (this.#recentMs > this.#tolerance * baseline) {
      if (now >= this.#calmUntil) {
        this.#limit = Math.max(this.min, this.#limit * 0.9);
        this.#threshold = this.#limit;
        this.#calmUntil = now + this.#recentMs;
      }
      return;
    }
    // Grow only while the slots are used: an idle limit says nothing about the server.
    if (this.#inFlight + 1 >= this.limit) this.#limit = Math.min(this.max, this.#limit + (this.#limit < this.#threshold ? 1 : 4 / this.#limit));
    this.#wake();
  }

  #recordBaseline(latencyMs: number, now: number): void {
    const b = this.#baseline;
    if (now - b.windowStart >= BASELINE_WINDOW_MS) {
      b.previousMin = b.currentMin;
      b.currentMin = Infinity;
      b.windowStart = now;
    }
    if (latencyMs < b.currentMin) b.currentMin = latencyMs;
  }

  #wake(): void {
    while (this.#inFlight < this.limit && this.#head < this.#waiting.length) {
      const next = this.#waiting[this.#head]!;
      this.#head++;
      this.#inFlight++;
      next();
    }
    if (this.#head === this.#waiting.length) {
      this.#waiting = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#waiting.length) {
      this.#waiting = this.#waiting.slice(this.#head);
      this.#head = 0;
    }
  }
}
