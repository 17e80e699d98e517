// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection package runs it
// for OpenMeter's collector (same settings and defaults: lease namespace/name/identity, lease
// duration 15s, renew deadline 10s, retry period 2s, health-check timeout 0 = 1.5 x the lease
// duration; the lease is released when stopped), with one guarantee made strict: a leader that
// cannot renew stops leading `renewDeadline` after the last renewal it sent, which is before any
// other candidate may take the lease (`leaseDuration` after it saw that renewal). isLeader() reads
// the clock, so it turns false at that instant even if the process was paused and its timers run late.
//
// A candidate takes the lease when it does not exist, when its holder is empty (released), or when
// the holder has not changed the record for the record's leaseDurationSeconds, measured on the
// candidate's own clock from when it observed the record (so clocks need not agree). Every write
// is conditional on the Lease's resourceVersion: two candidates can never both take it.

import type { Logger } from 'pino';
import type { Gauge } from 'prom-client';
import type { Metrics } from '../engine/metrics.js';
import { sleep } from '../engine/sleep.js';
import { microTime, type Lease, type LeaseSpec } from './api.js';
import { KubernetesError } from './client.js';

/** client-go's JitterFactor: candidates retry every retryPeriod to 2.2 x retryPeriod. */
export const JITTER_FACTOR = 1.2;

export interface LeaderElectionSettings {
  readonly namespace: string;
  readonly name: string;
  /** This replica's identity in the Lease (OpenMeter: the pod name, else the host name). */
  readonly identity: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  /** How long past an expected renewal a leader reports itself unhealthy; 0 means 1.5 x leaseDurationMs. */
  readonly healthCheckTimeoutMs: number;
}

/** OpenMeter's defaults (its leader-election flags). */
export const LEADER_ELECTION_DEFAULTS = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, healthCheckTimeoutMs: 0 } as const;

/** The calls leader election makes; KubernetesClient implements them. */
export interface LeaseClient {
  getLease(namespace: string, name: string, signal: AbortSignal): Promise<Lease | undefined>;
  createLease(lease: Lease, signal: AbortSignal): Promise<Lease>;
  updateLease(lease: Lease, signal: AbortSignal): Promise<Lease>;
}

export interface LeaderElectorOptions {
  readonly client: LeaseClient;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  /** Called when this replica starts leading. */
  readonly onStartedLeading?: () => void;
  /** Called when it stops leading, with why. */
  readonly onStoppedLeading?: (reason: string) => void;
  /** Called when another identity is observed holding the lease. */
  readonly onNewLeader?: (identity: string) => void;
  /** The clock, epoch ms. Default Date.now. */
  readonly now?: () => number;
}

/** Checks the settings as client-go does, plus what the strict step-down needs. Throws naming the setting. */
export function checkLeaderElectionSettings(s: LeaderElectionSettings): void {
  if (!s.namespace) throw new Error('lease lock namespace is required when leader election is enabled');
  if (!s.name) throw new Error('lease lock name is required when leader election is enabled');
  if (!s.identity) throw new Error('lease lock identity must not be empty');
  if (s.leaseDurationMs < 1000) throw new Error(`lease duration must be at least 1s (the Lease stores whole seconds), got ${s.leaseDurationMs}ms`);
  if (s.retryPeriodMs <= 0) throw new Error('retry period must be positive');
  // The Lease stores whole seconds, and that is what other candidates wait for.
  const stored = Math.floor(s.leaseDurationMs / 1000) * 1000;
  if (s.renewDeadlineMs >= stored) throw new Error(`lease duration (${stored}ms as the Lease stores it) must be greater than the renew deadline (${s.renewDeadlineMs}ms)`);
  if (s.renewDeadlineMs <= JITTER_FACTOR * s.retryPeriodMs) {
    throw new Error(`renew deadline (${s.renewDeadlineMs}ms) must be greater than retry period x ${JITTER_FACTOR} (${JITTER_FACTOR * s.retryPeriodMs}ms)`);
  }
  if (s.healthCheckTimeoutMs < 0) throw new Error('health-check timeout must not be negative');
}

export class LeaderElector {
  readonly settings: LeaderElectionSettings;
  #options: LeaderElectorOptions;
  #now: () => number;
  #stop = new AbortController();
  #loop: Promise<void> | undefined;
  #leading = false;
  /** Leadership is valid until then (the last renewal sent + renewDeadline). */
  #validUntil = 0;
  #renewedAt = 0;
  #stepDown: NodeJS.Timeout | undefined;
  /** The Lease as last read or written, and when (on our clock) its record last changed. */
  #observed: Lease | undefined;
  #observedSpec = '';
  #observedAt = 0;
  #status: Gauge | undefined;

  constructor(settings: LeaderElectionSettings, options: LeaderElectorOptions) {
    checkLeaderElectionSettings(settings);
    this.settings = settings;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#status = options.metrics?.gauge('leader_election_master_status', 'Whether this replica leads (1) or not (0), per lease (client-go\'s metric).', ['name']);
    this.#status?.set({ name: settings.name }, 0);
  }

  /** Whether this replica leads now: it took the lease and its last renewal is within the renew deadline. */
  isLeader(): boolean {
    return this.#leading && this.#now() < this.#validUntil;
  }

  /** The identity last seen holding the lease ('' when released), or undefined before the first read. */
  get leader(): string | undefined {
    return this.#observed?.spec.holderIdentity;
  }

  /** When the last successful renewal (or acquisition) was sent, epoch ms; 0 before any. */
  get renewedAt(): number {
    return this.#renewedAt;
  }

  /** When this replica's leadership lapses unless renewed, epoch ms; 0 when not leading. */
  get validUntil(): number {
    return this.#leading ? this.#validUntil : 0;
  }

  /**
   * client-go's healthz check: an error when this replica believes it leads but has not seen its
   * record change for leaseDuration + health-check timeout (a stuck elector). Followers are healthy.
   */
  check(): Error | undefined {
    if (!this.#leading) return undefined;
    const timeout = this.settings.healthCheckTimeoutMs || this.settings.leaseDurationMs * 1.5;
    if (this.#now() - this.#observedAt > this.settings.leaseDurationMs + timeout) {
      return new Error(`failed election to renew leadership on lease ${this.settings.namespace}/${this.settings.name}`);
    }
    return undefined;
  }

  /** An annotation of the Lease as the API server has it now; undefined when absent or there is no Lease. */
  async readAnnotation(key: string, signal: AbortSignal): Promise<string | undefined> {
    const lease = await this.#options.client.getLease(this.settings.namespace, this.settings.name, signal);
    return lease?.metadata.annotations?.[key];
  }

  /**
   * Sets an annotation of the Lease, only while this replica leads: the write is conditional on
   * the resourceVersion of a Lease read with this replica as its holder, so once another replica
   * took the Lease (which changes it) the write is refused. Conflicts with this replica's own
   * renewals are retried. False when refused for leadership; throws when the API server fails.
   */
  async writeAnnotation(key: string, value: string, signal: AbortSignal): Promise<boolean> {
    const { client } = this.#options;
    const { namespace, name, identity } = this.settings;
    for (let attempt = 0; attempt < 5; attempt++) {
      if (!this.isLeader()) return false;
      const current = await client.getLease(namespace, name, signal);
      if (current === undefined || current.spec.holderIdentity !== identity || !this.isLeader()) return false;
      try {
        const updated = await client.updateLease({ ...current, metadata: { ...current.metadata, annotations: { ...current.metadata.annotations, [key]: value } } }, signal);
        this.#observe(updated);
        return true;
      } catch (err) {
        if (!(err instanceof KubernetesError && err.kind === 'conflict')) throw err;
      }
    }
    return false;
  }

  /** Starts campaigning: acquire, renew, and campaign again after losing, until stop(). */
  start(): void {
    this.#loop ??= this.#run(this.#stop.signal).catch((err: unknown) => {
      this.#options.logger.error({ error: (err as Error).message }, 'leader election stopped unexpectedly');
    });
  }

  /** Stops campaigning; a leader steps down and, unless `release` is false, releases the lease for others at once. Idempotent. */
  async stop(options: { release?: boolean } = {}): Promise<void> {
    if (this.#stop.signal.aborted) return this.#loop;
    this.#stop.abort();
    await this.#loop;
    const wasLeading = this.isLeader();
    this.#lose('stopped');
    if (wasLeading && options.release !== false) await this.#release();
  }

  async #run(signal: AbortSignal): Promise<void> {
    const { logger } = this.#options;
    while (!signal.aborted) {
      logger.info({ lease: this.#describe(), identity: this.settings.identity }, 'leader election: campaigning');
      if (!(await this.#acquire(signal))) return;
      const reason = await this.#renew(signal);
      if (signal.aborted) return;
      this.#lose(reason);
      await sleep(this.settings.retryPeriodMs, signal);
    }
  }

  /** Tries every retryPeriod (jittered) until the lease is ours; false when stopped first. */
  async #acquire(signal: AbortSignal): Promise<boolean> {
    for (;;) {
      if (signal.aborted) return false;
      const sent = this.#now();
      if (await this.#tryAcquireOrRenew(signal, sent + this.settings.renewDeadlineMs)) {
        this.#lead(sent);
        return true;
      }
      await sleep(this.settings.retryPeriodMs * (1 + Math.random() * JITTER_FACTOR), signal);
    }
  }

  /** Renews every retryPeriod, retrying until the renew deadline; resolves with why leadership ended. */
  async #renew(signal: AbortSignal): Promise<string> {
    for (;;) {
      await sleep(this.settings.retryPeriodMs, signal);
      for (;;) {
        if (signal.aborted) return 'stopped';
        if (this.#now() >= this.#validUntil) return `could not renew the lease within the renew deadline (${this.settings.renewDeadlineMs}ms)`;
        const sent = this.#now();
        if (await this.#tryAcquireOrRenew(signal, this.#validUntil)) {
          this.#extend(sent);
          break;
        }
        const holder = this.#observed?.spec.holderIdentity;
        if (holder && holder !== this.settings.identity) return `the lease is held by ${holder}`;
        await sleep(Math.min(this.settings.retryPeriodMs, Math.max(0, this.#validUntil - this.#now())), signal);
      }
    }
  }

  /** One attempt: read the Lease, and create or update it for us when it is free or ours. */
  async #tryAcquireOrRenew(stop: AbortSignal, deadline: number): Promise<boolean> {
    const { client, logger } = this.#options;
    const { namespace, name, identity } = this.settings;
    const attempt = new AbortController();
    const onStop = (): void => attempt.abort();
    stop.addEventListener('abort', onStop, { once: true });
    const timer = setTimeout(() => attempt.abort(), Math.max(1, deadline - this.#now()));
    try {
      const now = this.#now();
      const current = await client.getLease(namespace, name, attempt.signal);
      const record: LeaseSpec = { holderIdentity: identity, leaseDurationSeconds: Math.floor(this.settings.leaseDurationMs / 1000), acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 };
      if (current === undefined) {
        this.#observe(await client.createLease({ metadata: { namespace, name }, spec: record }, attempt.signal));
        return true;
      }
      this.#observe(current);
      const held = current.spec.holderIdentity ?? '';
      const durationMs = (current.spec.leaseDurationSeconds ?? record.leaseDurationSeconds!) * 1000;
      if (held !== '' && held !== identity && now < this.#observedAt + durationMs) return false;
      if (held === identity) {
        record.acquireTime = current.spec.acquireTime ?? record.acquireTime;
        record.leaseTransitions = current.spec.leaseTransitions ?? 0;
      } else {
        record.leaseTransitions = (current.spec.leaseTransitions ?? 0) + 1;
      }
      this.#observe(await client.updateLease({ ...current, spec: record }, attempt.signal));
      return true;
    } catch (err) {
      if (!stop.aborted) {
        const conflict = err instanceof KubernetesError && err.kind === 'conflict';
        logger[conflict ? 'debug' : 'warn']({ lease: this.#describe(), error: (err as Error).message }, 'leader election: lease not acquired or renewed');
      }
      return false;
    } finally {
      clearTimeout(timer);
      stop.removeEventListener('abort', onStop);
    }
  }

  /** Remembers the Lease; its record changing (not just being re-read) is what keeps a holder alive. */
  #observe(lease: Lease): void {
    const spec = JSON.stringify(lease.spec);
    const before = this.#observed?.spec.holderIdentity;
    this.#observed = lease;
    if (spec !== this.#observedSpec) {
      this.#observedSpec = spec;
      this.#observedAt = this.#now();
    }
    const holder = lease.spec.holderIdentity ?? '';
    if (holder !== before && holder !== '' && holder !== this.settings.identity) {
      this.#options.logger.info({ lease: this.#describe(), leader: holder }, 'leader election: current leader');
      this.#options.onNewLeader?.(holder);
    }
  }

  #lead(sent: number): void {
    this.#leading = true;
    this.#extend(sent);
    this.#status?.set({ name: this.settings.name }, 1);
    this.#options.logger.info({ lease: this.#describe(), identity: this.settings.identity }, 'leader election: lease acquired');
    this.#options.onStartedLeading?.();
  }

  /** A renewal sent at `sent` succeeded: leadership holds until sent + renewDeadline. */
  #extend(sent: number): void {
    this.#renewedAt = sent;
    this.#validUntil = sent + this.settings.renewDeadlineMs;
    clearTimeout(this.#stepDown);
    this.#stepDown = setTimeout(() => {
      if (this.#leading && this.#now() >= this.#validUntil) this.#lose(`could not renew the lease within the renew deadline (${this.settings.renewDeadlineMs}ms)`);
    }, Math.max(0, this.#validUntil - this.#now()));
  }

  #lose(reason: string): void {
    clearTimeout(this.#stepDown);
    if (!this.#leading) return;
    this.#leading = false;
    this.#validUntil = 0;
    this.#status?.set({ name: this.settings.name }, 0);
    this.#options.logger.info({ lease: this.#describe(), reason }, 'leader election: lease lost');
    this.#options.onStoppedLeading?.(reason);
  }

  /** client-go's release: holder emptied, duration 1s, so a candidate takes the lease at once. */
  async #release(): Promise<void> {
    const current = this.#observed;
    if (!current || current.spec.holderIdentity !== this.settings.identity) return;
    const now = microTime(this.#now());
    try {
      const released = await this.#options.client.updateLease(
        { ...current, spec: { holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now, leaseTransitions: current.spec.leaseTransitions ?? 0 } },
        AbortSignal.timeout(this.settings.renewDeadlineMs),
      );
      this.#observe(released);
      this.#options.logger.info({ lease: this.#describe() }, 'leader election: lease released');
    } catch (err) {
      this.#options.logger.warn({ lease: this.#describe(), error: (err as Error).message }, 'leader election: could not release the lease; it expires on its own');
    }
  }

  #describe(): string {
    return `${this.settings.namespace}/${this.settings.name}`;
  }
}
