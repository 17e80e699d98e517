// The machinery the windowed inputs share (`run_ai`, `prometheus`): a schedule whose nominal ticks
// cut time into aligned, contiguous windows; one scrape at a time that fetches every resource of
// the source for each due window (a Run:ai workload, a PromQL query); one batch per window; and,
// with `state`, the window ledger (ledger.ts) that makes it durable: stored before emitted, done
// once acked, emitted again byte for byte after a restart, missed windows backfilled with the
// bounds they would have had (so the mapping gives them the same ids) up to `max_backfill`, older
// ones recorded as gaps, and resources whose fetch failed owed until they succeed.
//
// - Window k is [tick(k-1) - offset, tick(k) - offset], whatever the timer jitter.
// - Scrapes never overlap. One that overruns delays the next, which then scrapes every tick it
//   missed, each as its own window (at most MAX_WINDOWS_PER_SCRAPE per scrape).
// - A failed listing leaves its windows due for the next tick instead of losing them.
// - A resource whose fetch fails is not emitted with partial values; it is logged, counted, and
//   its window is fetched again at the next scrape (without state, up to MAX_ATTEMPTS).
// - Under leader election (Settings.leadership) only the leader scrapes; the ledger's watermark
//   is shared through it, so a new leader continues where the old one stopped (see #lead).
//
// A source knows its outside system; this file knows none.

import { setMaxListeners } from 'node:events';
import { resolve as resolvePath } from 'node:path';
import type { Ack, BufferPosition, Input, ReadResult, Settings } from '../engine/component.js';
import type { BufferState } from '../engine/buffer_store.js';
import { Undeliverable } from '../engine/delivery.js';
import { Message } from '../engine/message.js';
import { formatDuration } from '../config/duration.js';
import type { WindowingConfig } from './config.js';
import { planResume, type GapReason, type PendingBatch, type WindowLedger } from './ledger.js';
import { SharedWatermark } from './shared_watermark.js';
import { fetchAll, groupByWindow, iso, reportGivenUp, sortOutcomes, type Job, type Outcome } from './settle.js';
import { openWindowLedger, reconcileWithBuffer, recordMaxBackfillGap } from './state.js';
import { windowMetrics, type WindowMetrics } from './metrics.js';
import { sleepUntil } from './sleep_until.js';
import { MAX_ATTEMPTS, MAX_DUE_WINDOWS, MAX_PENDING_BATCHES, MAX_WINDOWS_PER_SCRAPE, MIN_OWED_PER_SCRAPE, OWED_PROBES, owedBackoff, type Window, type WindowSource } from './source.js';

export type { Window, WindowSource } from './source.js';

/** A batch waiting to be read: one window's messages, or the retried resources of one window. */
interface Queued {
  readonly messages: Message[];
  /** Its id in the ledger's outbox, when the input keeps state. */
  readonly ledgerId?: number;
}

export class WindowedInput<R> implements Input {
  #config: WindowingConfig;
  #source: WindowSource<R>;
  #settings: Settings;
  #ledger: WindowLedger | undefined;
  /** Where the schedule starts, planned from the ledger at connect. */
  #plan: { start: number; tick: number } | undefined;
  /** Windows whose tick had passed when the input started are backfill. */
  #startedAt = 0;
  #loop: Promise<void> | undefined;
  #stop = new AbortController();
  #closing: Promise<void> | undefined;
  #closed = false;
  /** Batches read and not yet settled: the ledger stays open until they are. */
  #outstanding = 0;
  /** Ledger ids of the batches read and not yet settled. */
  #reading = new Set<number>();
  /** Batches ready for read(), oldest first: one per window. */
  #batches: Queued[] = [];
  /** Deliveries acked but not yet written to the ledger (see #recordDelivered). */
  #unrecorded: { readonly messages: number; readonly write: (ledger: WindowLedger) => void }[] = [];
  /** The durable buffer's last reported state; set only when the pipeline has one. */
  #bufferState: BufferState | undefined;
  #waiters = new Set<() => void>();
  /** Windows whose listing hasn't succeeded yet, oldest first. */
  #due: Window[] = [];
  /** Without state: resource windows whose fetch failed, by `<id>@<window start>`, retried at the next scrape. */
  #missing = new Map<string, Job<R>>();
  /** False after a scrape whose fetches all failed: owed windows are then only probed (OWED_PROBES). */
  #fetchesAnswer = true;
  /** Under leader election: this input's watermark in the shared store. */
  #shared: SharedWatermark | undefined;
  #metrics: WindowMetrics;

  constructor(config: WindowingConfig, source: WindowSource<R>, settings: Settings) {
    this.#config = config;
    this.#source = source;
    this.#settings = settings;
    // Every queued or in-flight request listens on the scrape signal: thousands, by design.
    setMaxListeners(0, this.#stop.signal);
    if (settings.leadership) this.#shared = new SharedWatermark(settings.leadership, `watermark.${settings.path}`, source, settings);
    this.#metrics = windowMetrics(settings.metrics, source.metricPrefix);
  }

  /** The signal aborted when the input closes: sources hang their requests on it. */
  get closing(): AbortSignal {
    return this.#stop.signal;
  }

  /** Opens the state (re-queuing what it holds), checks the source, then starts the schedule. */
  async connect(signal: AbortSignal): Promise<void> {
    if (this.#stop.signal.aborted) throw new Error(`${this.#source.component} input is closed`);
    if (this.#loop !== undefined) return;
    if (this.#config.state && this.#ledger === undefined) this.#openLedger(this.#config.state);
    await this.#source.connect(signal);
    // Under leader election each leadership term plans its own start (#lead).
    if (this.#ledger && !this.#settings.leadership) this.#plan ??= this.#resume(this.#ledger, this.#config.state!);
    if (this.#settings.leadership && !this.#ledger) {
      this.#settings.logger.warn(
        {},
        `${this.#source.name} under leader election without state: a new leader starts from the next tick, so the windows between the old leader's last scrape and the takeover are not collected; set state to continue where it stopped`,
      );
    }
    this.#loop = this.#run(this.#stop.signal).catch((err: unknown) => {
      this.#settings.logger.error({ error: this.#scrub(err) }, `${this.#source.name} schedule stopped unexpectedly`);
    });
  }

  async read(signal: AbortSignal): Promise<ReadResult | null> {
    for (;;) {
      const queued = this.#batches.shift();
      if (queued !== undefined) {
        this.#outstanding++;
        if (queued.ledgerId !== undefined) this.#reading.add(queued.ledgerId);
        return { batch: queued.messages, ack: this.#ack(queued) };
      }
      if (this.#stop.signal.aborted || signal.aborted) return null;
      await this.#nextBatch(signal);
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#stop.abort(new Error(`${this.#source.component} input closed`));
    this.#notify();
    await this.#loop;
    await this.#source.close();
    const unread = this.#batches.reduce((n, b) => n + b.messages.length, 0);
    if (unread > 0 && this.#ledger) {
      this.#settings.logger.info({ messages: unread, state: this.#ledger.file }, `${this.#source.name} input closed with unread messages; they are kept in its state and sent at the next start`);
    } else if (unread > 0) {
      this.#settings.logger.warn({ messages: unread }, `${this.#source.name} input closed with undelivered messages; their windows are lost`);
    }
    this.#closed = true;
    this.#closeLedgerWhenSettled();
  }

  /**
   * No error: the batch is done (and so is its window, in the ledger). Undeliverable: done too,
   * and the resources whose messages were given up are recorded (gaps in the ledger, an error line
   * and a count either way). Any other error: its messages are queued again, first in line.
   */
  #ack(queued: Queued): Ack {
    let settled = false;
    const name = this.#source.name;
    return (error, buffered) => {
      if (settled) return;
      settled = true;
      this.#outstanding--;
      if (queued.ledgerId !== undefined) this.#reading.delete(queued.ledgerId);
      try {
        if (error === undefined || error instanceof Undeliverable) {
          const givenUp = error ? reportGivenUp(queued.messages, error, { source: this.#source, scrub: (e) => this.#scrub(e), abandoned: this.#metrics.abandoned, logger: this.#settings.logger, ...(this.#ledger ? { state: this.#ledger.file } : {}) }) : [];
          if (queued.ledgerId !== undefined) this.#recordDelivered(queued.ledgerId, queued.messages.length, buffered, givenUp);
          return;
        }
        if (this.#stop.signal.aborted) {
          if (queued.ledgerId !== undefined) {
            this.#settings.logger.warn(
              { messages: queued.messages.length, error: this.#scrub(error) },
              `${name} batch was not delivered before shutdown; it is kept in the state and sent again at the next start`,
            );
          } else {
            this.#settings.logger.error({ messages: queued.messages.length, error: this.#scrub(error) }, `${name} batch was not delivered before shutdown; its windows are lost`);
          }
          return;
        }
        this.#batches.unshift(queued);
        this.#notify();
        this.#settings.logger.warn({ messages: queued.messages.length, error: this.#scrub(error) }, `${name} batch was not delivered; queued again`);
      } finally {
        this.#closeLedgerWhenSettled();
      }
    };
  }

  /**
   * Records the batch delivered in the ledger. A write that fails (a lock held by another process,
   * a full disk) is kept and tried again at the next ack, scrape or buffer progress, so a passing
   * problem costs no duplicate; if it still fails at the end, the next start sends the batch again.
   */
  #recordDelivered(ledgerId: number, messages: number, position: BufferPosition | undefined, givenUp: { resourceId: string; reason: GapReason; detail: string }[]): void {
    this.#unrecorded.push({ messages, write: (ledger) => ledger.delivered(ledgerId, { ...(position ? { position } : {}), givenUp }) });
    this.#recordPending();
  }

  /** Writes the deliveries not recorded yet, oldest first; false when one still fails. */
  #recordPending(): boolean {
    const ledger = this.#ledger;
    while (ledger?.isOpen && this.#unrecorded.length > 0) {
      const next = this.#unrecorded[0]!;
      try {
        next.write(ledger);
      } catch (err) {
        const closing = this.#closed && this.#outstanding === 0;
        this.#settings.logger.error(
          { messages: next.messages, batches: this.#unrecorded.length, error: (err as Error).message, state: ledger.file },
          closing
            ? `${this.#source.name} could not record delivered batches in its state; they will be sent again at the next start`
            : `${this.#source.name} could not record a delivered batch in its state yet; it tries again`,
        );
        return false;
      }
      this.#unrecorded.shift();
    }
    if (ledger) this.#shared?.publish(ledger);
    return true;
  }

  /** Where the durable buffer stands: batches it delivered are forgotten, batches it lost are emitted again. */
  buffered(state: BufferState): void {
    this.#bufferState = state;
    // Reported before connect(): applied when the ledger opens, before its pending batches are read.
    if (!this.#ledger?.isOpen) return;
    this.#recordPending();
    const reopened = reconcileWithBuffer(this.#ledger, state, this.#settings.logger, this.#source.name);
    this.#closeLedgerWhenSettled();
    if (reopened.length === 0 || this.#closed) return;
    this.#batches.unshift(...reopened.map(queuedOf));
    this.#notify();
  }

  /**
   * Acks arrive after close() while the pipeline drains, and so does the buffer's progress (the
   * engine reports it a last time after the drain): the ledger closes once no read is unsettled
   * and no batch waits for the buffer. Batches the buffer did not deliver before the end keep the
   * file open until the process exits; the next start squares them with the buffer.
   */
  #closeLedgerWhenSettled(): void {
    const ledger = this.#ledger;
    if (!this.#closed || this.#outstanding > 0 || !ledger?.isOpen) return;
    if (this.#recordPending() && this.#bufferState !== undefined && ledger.held() > 0) return;
    ledger.close();
  }

  #nextBatch(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.#waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.#waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  #notify(): void {
    for (const wake of [...this.#waiters]) wake();
  }

  // -- state ---------------------------------------------------------------------------------

  /** Opens the ledger and queues the batches it holds undelivered, oldest first, before anything new. */
  #openLedger(state: NonNullable<WindowingConfig['state']>): void {
    const file = resolvePath(this.#settings.baseDir, state.path);
    const name = this.#source.name;
    const ledger = openWindowLedger(file, state, this.#config, this.#source, this.#settings.logger);
    this.#ledger = ledger;
    if (this.#bufferState) reconcileWithBuffer(ledger, this.#bufferState, this.#settings.logger, this.#source.name);
    // A follower sends nothing: under leader election, pending batches are queued when it leads (#lead).
    const pending = this.#settings.leadership ? [] : ledger.pendingBatches();
    for (const batch of pending) this.#batches.push(queuedOf(batch));
    if (pending.length > 0) {
      this.#settings.logger.info(
        { state: file, batches: pending.length, messages: pending.reduce((n, b) => n + b.messages.length, 0) },
        `${name} batches scraped by a previous run and not delivered are sent again`,
      );
    }
    this.#metrics.owed.set({ type: this.#source.type }, ledger.owed());
  }

  /** Plans the first window from the ledger: backfill from the last recorded window, gaps beyond max_backfill. */
  #resume(ledger: WindowLedger, state: NonNullable<WindowingConfig['state']>): { start: number; tick: number } {
    const now = Date.now();
    const resumePoint = ledger.resumePoint();
    const plan = planResume(this.#config.schedule, this.#config.offsetMs, resumePoint, now, state.maxBackfillMs);
    this.#startedAt = now;
    if (plan.gap) this.#recordGap(ledger, plan.gap, now);
    if (plan.backfill > 0) {
      this.#settings.logger.info(
        { windows: plan.backfill, from: iso(plan.start), schedule: this.#config.schedule.text },
        `${this.#source.name} backfills the windows missed while it was not running`,
      );
    }
    return { start: plan.start, tick: plan.tick };
  }

  /** Records whole windows given up as a gap: a row in the ledger, the skipped metric and an error line. */
  #recordGap(ledger: WindowLedger, gap: { start: number; end: number; windows: number }, now: number): void {
    recordMaxBackfillGap(ledger, gap, now, this.#config.state!, { skipped: this.#metrics.skipped, type: this.#source.type, name: this.#source.name, logger: this.#settings.logger });
  }

  // -- schedule ------------------------------------------------------------------------------

  /** Runs the schedule; under leader election, one term per leadership, idle in between. */
  async #run(stop: AbortSignal): Promise<void> {
    const leadership = this.#settings.leadership;
    if (!leadership) return this.#term(stop, this.#plan);
    while (!stop.aborted) {
      if (!(await leadership.whenLeading(stop))) return;
      // A term ends when leadership is lost (or the input closes); its scrape is aborted with it.
      const term = new AbortController();
      setMaxListeners(0, term.signal);
      const end = (): void => term.abort();
      const unsubscribe = leadership.onChange((leading) => {
        if (!leading) end();
      });
      stop.addEventListener('abort', end, { once: true });
      try {
        const plan = await this.#lead(term.signal);
        if (plan !== null) await this.#term(term.signal, plan);
      } finally {
        unsubscribe();
        stop.removeEventListener('abort', end);
        this.#follow();
      }
    }
  }

  /**
   * Starts a leadership term: queues what the ledger holds undelivered and plans the first window
   * from it. Null when leadership ended first.
   */
  async #lead(signal: AbortSignal): Promise<{ start: number; tick: number } | undefined | null> {
    this.#settings.logger.info({ identity: this.#settings.leadership!.identity }, `${this.#source.name} scrapes: this replica leads`);
    const ledger = this.#ledger;
    if (!ledger) return undefined;
    const shared = await this.#shared!.read(signal);
    if (shared === null) return null;
    if (shared !== undefined) {
      const local = ledger.resumePoint();
      if (ledger.adopt(shared)) {
        this.#settings.logger.info(
          { watermark: iso(shared), local: local === undefined ? null : iso(local), state: ledger.file },
          `${this.#source.name} continues from the watermark the previous leader left; the windows since are backfilled with the same bounds`,
        );
        this.#metrics.owed.set({ type: this.#source.type }, 0);
      }
    }
    // Batches read in an earlier term and not settled yet are still on their way: not queued twice.
    const pending = ledger.pendingBatches().filter((b) => !this.#reading.has(b.id));
    for (const batch of pending) this.#batches.push(queuedOf(batch));
    if (pending.length > 0) this.#notify();
    const plan = this.#resume(ledger, this.#config.state!);
    this.#shared!.publish(ledger);
    return plan;
  }

  /** Ends a leadership term: what is queued and not read is not sent by a follower (the ledger keeps it). */
  #follow(): void {
    // Closing: what is unread stays for close() to account for.
    if (this.#stop.signal.aborted) return;
    this.#batches = [];
    this.#due = [];
    this.#missing.clear();
    this.#settings.logger.info({}, `${this.#source.name} stops scraping: this replica no longer leads`);
  }

  /** Whether this replica may scrape and emit now: always without leader election. */
  #leading(): boolean {
    return this.#settings.leadership?.isLeader() ?? true;
  }

  /**
   * Waits for each nominal tick, makes its window due and scrapes; one scrape at a time. With state,
   * windows left due after a scrape (backfill) are scraped at once instead of at the next tick.
   * Returns when `signal` aborts or this replica no longer leads.
   */
  async #term(signal: AbortSignal, plan: { start: number; tick: number } | undefined): Promise<void> {
    const { schedule, offsetMs } = this.#config;
    let tick = plan?.tick ?? schedule.next(Date.now());
    let start = plan?.start ?? schedule.previous(tick) - offsetMs;
    let progressed = false;
    while (!signal.aborted) {
      const catchUp = this.#ledger !== undefined && progressed && this.#due.length > 0;
      if (!catchUp && !(await sleepUntil(tick, signal))) return;
      if (!this.#leading()) return;
      // Every tick that has passed gets its own window, so an overrun leaves no gap.
      const now = Date.now();
      while (tick <= now) {
        this.#due.push({ start, end: tick - offsetMs, tick });
        start = tick - offsetMs;
        tick = schedule.next(tick);
      }
      this.#trimDue(now);
      const began = Date.now();
      progressed = false;
      try {
        progressed = await this.#scrape(signal);
      } catch (err) {
        if (signal.aborted) return;
        this.#settings.logger.error({ error: this.#scrub(err) }, `${this.#source.name} scrape failed unexpectedly`);
      }
      const took = Date.now() - began;
      if (Date.now() > tick && !signal.aborted) {
        this.#settings.logger.warn(
          { took: formatDuration(took * 1e6), schedule: schedule.text },
          `${this.#source.name} scrape overran its schedule; the next scrape starts late and covers the missed ticks`,
        );
      }
    }
  }

  #trimDue(now: number): void {
    const state = this.#config.state;
    if (this.#ledger && state) {
      // With state, a window is given up only once it is older than max_backfill, and never silently.
      let count = 0;
      while (count < this.#due.length && this.#due[count]!.tick < now - state.maxBackfillMs) count++;
      if (count === 0) return;
      const dropped = this.#due.slice(0, count);
      try {
        this.#recordGap(this.#ledger, { start: dropped[0]!.start, end: dropped[count - 1]!.end, windows: count }, now);
        this.#due.splice(0, count);
      } catch (err) {
        this.#settings.logger.error({ error: (err as Error).message }, `${this.#source.name} could not record a gap in its state; the windows stay due`);
      }
      return;
    }
    const excess = this.#due.length - MAX_DUE_WINDOWS;
    if (excess <= 0) return;
    const dropped = this.#due.splice(0, excess);
    this.#metrics.abandoned.inc({ type: this.#source.type, reason: 'backlog' }, dropped.length);
    this.#settings.logger.error(
      { windows: dropped.length, from: iso(dropped[0]!.start), to: iso(dropped[dropped.length - 1]!.end) },
      `${this.#source.name} windows dropped: too many windows waiting to be scraped`,
    );
  }

  // -- scrape --------------------------------------------------------------------------------

  /**
   * Lists resources, fetches them for due windows (at most MAX_WINDOWS_PER_SCRAPE) and every
   * missing one, queues one batch per window. Due windows leave `#due` only once settled, so a
   * scrape that is aborted or fails leaves them due. True when it settled windows or retries.
   */
  async #scrape(signal: AbortSignal): Promise<boolean> {
    const type = this.#source.type;
    if (this.#ledger) this.#recordPending();
    if (this.#batches.length >= MAX_PENDING_BATCHES) {
      this.#settings.logger.warn({ batches: this.#batches.length }, `${this.#source.name} scrape postponed: the output is behind`);
      return false;
    }
    const started = process.hrtime.bigint();
    let resources: readonly R[];
    try {
      resources = await this.#source.list(signal);
    } catch (err) {
      if (signal.aborted) return false;
      this.#metrics.scrapeErrors.inc({ type });
      this.#settings.logger.error(
        { error: this.#scrub(err), windows: this.#due.length },
        `${this.#source.name} listing failed; its windows are scraped at the next tick`,
      );
      return false;
    }
    const windows = this.#due.slice(0, MAX_WINDOWS_PER_SCRAPE);
    const owedLimit = this.#fetchesAnswer ? Math.max(MIN_OWED_PER_SCRAPE, 4 * resources.length) : OWED_PROBES;
    const jobs = this.#ledger ? this.#owedJobs(this.#ledger, owedLimit) : this.#dueMissing(owedLimit);
    const owedTried = jobs.length;
    for (const window of windows) for (const resource of resources) jobs.push({ resource, window, attempts: 0 });
    const outcomes = await fetchAll(jobs, this.#source, signal);
    // A replica whose leadership lapsed during the scrape emits nothing of it: the new leader scrapes these windows.
    if (signal.aborted || !this.#leading()) return false;
    const answered = outcomes.some((o) => 'messages' in o);
    if (outcomes.length > 0 && answered !== this.#fetchesAnswer) {
      if (answered) this.#settings.logger.info(`${this.#source.name} answers again; owed windows are retried in full`);
      else this.#settings.logger.error({ owed_tried: owedTried }, `${this.#source.name} fetches all failed; owed windows are only probed (${OWED_PROBES} per scrape) until it answers`);
    }
    if (outcomes.length > 0) this.#fetchesAnswer = answered;
    if (this.#ledger) this.#settleWithLedger(this.#ledger, windows, resources.length, outcomes);
    else this.#settle(outcomes);
    this.#due.splice(0, windows.length);
    this.#metrics.scrapeDuration.observe({ type }, Number(process.hrtime.bigint() - started));
    return windows.length > 0 || jobs.length > 0;
  }

  /** Up to `limit` resources the ledger says are owed and due, oldest first, as jobs of their own windows. */
  #owedJobs(ledger: WindowLedger, limit: number): Job<R>[] {
    return ledger.missing({ due: Date.now(), limit }).map((owed) => ({ resource: owed.resource as R, window: owed.window, attempts: owed.attempts }));
  }

  /** Without state: up to `limit` owed jobs whose back-off has passed, oldest first; they leave `#missing`. */
  #dueMissing(limit: number): Job<R>[] {
    const now = Date.now();
    const jobs: Job<R>[] = [];
    for (const [key, job] of this.#missing) {
      if (jobs.length >= limit) break;
      if ((job.notBefore ?? 0) > now) continue;
      jobs.push(job);
      this.#missing.delete(key);
    }
    return jobs;
  }

  /** Queues the messages, one batch per window in window order; schedules failures for the next scrape. */
  #settle(outcomes: Outcome<R>[]): void {
    const batches = groupByWindow(outcomes);
    const failed = outcomes.filter((o) => 'error' in o);
    const examples = failed.slice(0, 3).map((o) => ({ id: this.#source.idOf(o.job.resource), window_end: iso(o.job.window.end), error: this.#scrub(o.error) }));
    for (const outcome of failed) this.#retryLater(outcome.job, outcome.error);
    for (const messages of batches) this.#batches.push({ messages });
    if (batches.length > 0) this.#notify();
    this.#metrics.owed.set({ type: this.#source.type }, this.#missing.size);
    this.#reportFailures(failed.length, examples, this.#missing.size);
  }

  /**
   * With state: records the whole scrape in the ledger in one transaction (new windows, their
   * messages, failures owed, recoveries, give-ups) and only then queues the batches, so what is
   * emitted is exactly what a restart would emit again. Throws (leaving everything due) when the
   * ledger cannot be written.
   */
  #settleWithLedger(ledger: WindowLedger, windows: readonly Window[], listed: number, outcomes: Outcome<R>[]): void {
    const type = this.#source.type;
    const { ordered, failed, recovered, givenUp, examples } = sortOutcomes(outcomes, {
      idOf: (resource) => this.#source.idOf(resource),
      gone: (error) => this.#source.gone(error),
      scrub: (error) => this.#scrub(error),
      now: Date.now(),
      maxBackfillMs: this.#config.state!.maxBackfillMs,
    });
    const ids = ledger.recordScrape({
      windows: windows.map((window) => ({ window, listed })),
      batches: ordered.map((b) => ({ window: b.window, kind: b.kind, messages: b.stored })),
      failed,
      recovered,
      givenUp,
    });
    const backfilled = windows.filter((w) => w.tick <= this.#startedAt).length;
    if (backfilled > 0) this.#metrics.backfilled.inc({ type }, backfilled);
    for (const [i, batch] of ordered.entries()) this.#batches.push({ messages: batch.messages, ledgerId: ids[i]! });
    if (ordered.length > 0) this.#notify();
    for (const g of givenUp) {
      this.#metrics.abandoned.inc({ type, reason: g.reason });
      this.#settings.logger.error(
        { id: g.resourceId, window_start: iso(g.window.start), window_end: iso(g.window.end), reason: g.reason, detail: g.detail },
        g.reason === 'not_found'
          ? `${this.#source.name} resource no longer exists; its window is given up (recorded as a gap)`
          : `${this.#source.name} fetch kept failing until the window was older than max_backfill; it is given up (recorded as a gap)`,
      );
    }
    const owed = ledger.owed();
    this.#metrics.owed.set({ type }, owed);
    this.#reportFailures(failed.length, examples, owed);
    this.#shared?.publish(ledger);
  }

  #reportFailures(count: number, examples: { id: string; window_end: string; error: string }[], owed: number): void {
    if (count === 0) return;
    this.#metrics.failures.inc({ type: this.#source.type }, count);
    this.#settings.logger.warn({ failed: count, owed, examples }, `${this.#source.name} fetch failed for some resources; their windows are owed and retried with back-off`);
  }

  #retryLater(job: Job<R>, error: Error): void {
    const type = this.#source.type;
    const gone = this.#source.gone(error);
    if (gone || job.attempts + 1 >= MAX_ATTEMPTS) {
      this.#metrics.abandoned.inc({ type, reason: gone ? 'not_found' : 'attempts' });
      this.#settings.logger.error(
        { id: this.#source.idOf(job.resource), window_start: iso(job.window.start), window_end: iso(job.window.end), attempts: job.attempts + 1, error: this.#scrub(error) },
        gone ? `${this.#source.name} resource no longer exists; its window is given up` : `${this.#source.name} fetch kept failing; the window is given up`,
      );
      return;
    }
    this.#missing.set(`${this.#source.idOf(job.resource)}@${job.window.start}`, { ...job, attempts: job.attempts + 1, notBefore: Date.now() + owedBackoff(job.attempts + 1, job.window) });
  }

  /** An error's message with every registered secret redacted. */
  #scrub(err: unknown): string {
    return this.#settings.secrets.scrub(err instanceof Error ? err.message : String(err));
  }
}

function queuedOf(batch: PendingBatch): Queued {
  return { messages: batch.messages.map((m) => Message.fromBytes(m.body, m.metadata)), ledgerId: batch.id };
}
