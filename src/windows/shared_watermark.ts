// Under leader election, a windowed input's watermark (WindowLedger.watermark(): everything
// before it delivered or given up) kept where every replica reads it (Leadership.readShared), so
// a new leader continues where the old one stopped. Only the leader writes it, and the store
// refuses a replica that lost the leadership; it never moves back.

import type { Leadership } from '../engine/leadership.js';
import type { Settings } from '../engine/component.js';
import type { WindowLedger } from './ledger.js';
import { sleepUntil } from './sleep_until.js';

export class SharedWatermark {
  #leadership: Leadership;
  #key: string;
  #source: { readonly name: string; readonly type: string };
  #settings: Settings;
  /** The value last read or written; writes only move it forward. */
  #published = -Infinity;
  #writing: Promise<void> | undefined;
  #again = false;

  constructor(leadership: Leadership, key: string, source: { readonly name: string; readonly type: string }, settings: Settings) {
    this.#leadership = leadership;
    this.#key = key;
    this.#source = source;
    this.#settings = settings;
  }

  /**
   * The watermark the leaders wrote, undefined when none was (or it is another input's); null when
   * `signal` aborted (leadership ended) before it could be read. Retried until then: a leader that
   * went on without it would backfill from its own, older, ledger.
   */
  async read(signal: AbortSignal): Promise<number | undefined | null> {
    for (let attempt = 0; ; attempt++) {
      if (signal.aborted) return null;
      try {
        const text = await this.#leadership.readShared(this.#key, signal);
        if (text === undefined) return undefined;
        const value = JSON.parse(text) as { end?: unknown; type?: unknown };
        if (typeof value.end !== 'number' || value.type !== this.#source.type) {
          this.#settings.logger.warn({ key: this.#key, value: text }, `${this.#source.name} ignores a shared watermark it cannot use (written for another input)`);
          return undefined;
        }
        this.#published = Math.max(this.#published, value.end);
        return value.end;
      } catch (err) {
        if (signal.aborted) return null;
        this.#settings.logger.warn({ error: this.#scrub(err), attempt }, `${this.#source.name} could not read the shared watermark; it tries again before scraping`);
        if (!(await sleepUntil(Date.now() + Math.min(5000, 250 * 2 ** attempt), signal))) return null;
      }
    }
  }

  /**
   * Writes the ledger's watermark once it advanced, while this replica leads: one write at a
   * time, the latest value wins. A refused write (no longer leading) or a failed one is left to
   * the next advance; the next leader then starts a little earlier and sends those windows again
   * with the same ids.
   */
  publish(ledger: WindowLedger): void {
    if (!ledger.isOpen || !this.#leadership.isLeader()) return;
    if (this.#writing) {
      this.#again = true;
      return;
    }
    let watermark: number | undefined;
    try {
      watermark = ledger.watermark();
    } catch {
      return;
    }
    if (watermark === undefined || watermark <= this.#published) return;
    const end = watermark;
    const value = JSON.stringify({ end, type: this.#source.type, at: new Date(end).toISOString() });
    this.#again = false;
    this.#writing = this.#leadership
      .writeShared(this.#key, value, AbortSignal.timeout(10_000))
      .then(
        (written) => {
          if (written) this.#published = Math.max(this.#published, end);
        },
        (err: unknown) => {
          this.#settings.logger.warn({ error: this.#scrub(err) }, `${this.#source.name} could not write the shared watermark; it tries again at the next window`);
        },
      )
      .finally(() => {
        this.#writing = undefined;
        if (this.#again) this.publish(ledger);
      });
  }

  #scrub(err: unknown): string {
    return this.#settings.secrets.scrub(err instanceof Error ? err.message : String(err));
  }
}
