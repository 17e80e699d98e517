// The engine's Leadership (engine/leadership.ts) on a Kubernetes Lease: the LeaderElector decides
// who leads, and shared values are annotations of the same Lease, written by the leader with a
// conditional update, so a replica that lost the Lease can no longer write them.

import type { Logger } from 'pino';
import type { Leadership } from '../engine/leadership.js';
import type { Metrics } from '../engine/metrics.js';
import { LeaderElector, type LeaderElectionSettings, type LeaseClient } from './leader.js';

/** Annotations sluice writes on the Lease: `sluice.dev/<key>`. */
export const ANNOTATION_PREFIX = 'sluice.dev/';

export interface LeaseLeadershipOptions {
  readonly client: LeaseClient;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  /** The clock, epoch ms. Default Date.now. */
  readonly now?: () => number;
}

export class LeaseLeadership implements Leadership {
  readonly elector: LeaderElector;
  #listeners = new Set<(leading: boolean) => void>();

  constructor(settings: LeaderElectionSettings, options: LeaseLeadershipOptions) {
    this.elector = new LeaderElector(settings, {
      client: options.client,
      logger: options.logger,
      ...(options.metrics ? { metrics: options.metrics } : {}),
      ...(options.now ? { now: options.now } : {}),
      onStartedLeading: () => this.#emit(true),
      onStoppedLeading: () => this.#emit(false),
    });
  }

  get identity(): string {
    return this.elector.settings.identity;
  }

  start(): void {
    this.elector.start();
  }

  /** Stops campaigning; a leader releases the Lease. */
  stop(): Promise<void> {
    return this.elector.stop();
  }

  isLeader(): boolean {
    return this.elector.isLeader();
  }

  whenLeading(signal: AbortSignal): Promise<boolean> {
    if (this.isLeader()) return Promise.resolve(true);
    if (signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (result: boolean): void => {
        unsubscribe();
        signal.removeEventListener('abort', onAbort);
        resolve(result);
      };
      const onAbort = (): void => done(false);
      const unsubscribe = this.onChange((leading) => {
        if (leading) done(true);
      });
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  onChange(listener: (leading: boolean) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  readShared(key: string, signal: AbortSignal): Promise<string | undefined> {
    return this.elector.readAnnotation(annotationKey(key), signal);
  }

  writeShared(key: string, value: string, signal: AbortSignal): Promise<boolean> {
    return this.elector.writeAnnotation(annotationKey(key), value, signal);
  }

  /** What /ready reports. */
  status(): { identity: string; leading: boolean; leader: string | undefined; lease: string } {
    const { namespace, name, identity } = this.elector.settings;
    return { identity, leading: this.isLeader(), leader: this.elector.leader, lease: `${namespace}/${name}` };
  }

  #emit(leading: boolean): void {
    for (const listener of [...this.#listeners]) listener(leading);
  }
}

/** An annotation name from a key: `sluice.dev/` and the key with characters annotations refuse replaced. */
export function annotationKey(key: string): string {
  const name = key.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '').slice(0, 63);
  return `${ANNOTATION_PREFIX}${name || 'x'}`;
}
