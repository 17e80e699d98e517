// Wraps a child output and drops (acks) messages whose delivery fails for a configured reason,
// instead of failing them back to the engine for replay (Redpanda Connect's `drop_on` output).
// The official OpenMeter config uses it to drop the events OpenMeter rejects as `Bad Request`.
import { durationSchema, parseDurationMs } from '../../config/duration.js';
import { defineOutput, type Settings, type Submission } from '../../engine/component.js';
import { componentPath } from '../../engine/metrics.js';
import type { Message } from '../../engine/message.js';
import { WrapperOutput } from './wrapper.js';
import { DeliveryError, outcomeOf, type GivenUp } from '../../engine/delivery.js';

export interface DropOnConfig {
  error: boolean;
  error_patterns: string[];
  back_pressure?: string;
  output: unknown;
}

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['output'],
  properties: {
    error: {
      type: 'boolean',
      default: false,
      description: 'Drop messages whenever the child output fails, whatever the error.',
    },
    error_patterns: {
      type: 'array',
      items: { type: 'string' },
      default: [],
      description: 'Drop messages when the child output fails with an error matching any of these regular expressions.',
    },
    back_pressure: durationSchema(
      'The longest the child output may take to accept and deliver messages. Past it they are dropped when `error` is true, else failed; and until the child accepts again, further messages are dropped (or failed) at once.',
    ),
    output: { 'x-component': 'output', description: 'The child output.' },
  },
};

export default defineOutput<DropOnConfig>({
  name: 'drop_on',
  summary: 'Writes to a child output and drops (acks) messages whose delivery fails for a configured reason instead of retrying them.',
  schema,
  example: { output: { drop: {} } },
  create: (config, settings) => new DropOn(config, settings),
});

class DropOn extends WrapperOutput {
  #onAnyError: boolean;
  #patterns: RegExp[];
  #backPressureMs: number | undefined;
  #backPressure: string | undefined;
  #settings: Settings;
  /** A submission the child did not accept within back_pressure; until it is accepted, new messages skip the child. */
  #stalled: Promise<void> | undefined;

  constructor(config: DropOnConfig, settings: Settings) {
    if (config.error && config.error_patterns.length > 0) {
      throw new Error('error_patterns: has no effect when error is true (every error is dropped)');
    }
    super([settings.build.output(config.output, `${settings.path}.output`)]);
    this.#patterns = config.error_patterns.map((pattern, i) => {
      try {
        return new RegExp(pattern);
      } catch (err) {
        throw new Error(`error_patterns[${i}]: ${(err as Error).message}`);
      }
    });
    this.#onAnyError = config.error;
    this.#backPressure = config.back_pressure;
    this.#backPressureMs = config.back_pressure === undefined ? undefined : parseDurationMs(config.back_pressure);
    this.#settings = settings;
  }

  /** Hands the batch to the child; messages whose failure matches `error`/`error_patterns` are dropped (see #dropOrFail). */
  submit(batch: readonly Message[]): Submission {
    if (this.#backPressureMs === undefined) {
      const submission = this.children[0]!.submit(batch);
      return { accepted: submission.accepted, delivered: submission.delivered.catch((err: unknown) => this.#dropOrFail(batch, err)) };
    }
    if (this.#stalled) return { accepted: Promise.resolve(), delivered: this.#dropOrFail(batch, this.#backPressureError()) };
    return this.#submitWithin(batch, this.#backPressureMs);
  }



  /** Connect's back_pressure: acceptance and delivery together must happen within `ms`. */
  #submitWithin(batch: readonly Message[], ms: number): Submission {
    const submission = this.children[0]!.submit(batch);
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((resolve) => {
      timer = setTimeout(() => resolve('expired'), ms);
    });
    const accepted = Promise.race([submission.accepted, expired]).then((outcome) => {
      if (outcome !== 'expired') return;
      const stalled = submission.accepted.catch(() => {});
      this.#stalled = stalled;
      void stalled.then(() => {
        if (this.#stalled === stalled) this.#stalled = undefined;
      });
    });
    const outcome = submission.delivered.then(
      () => 'delivered' as const,
      (err: unknown) => ({ err }),
    );
    const delivered = Promise.race([outcome, expired]).then((result) => {
      clearTimeout(timer);
      if (result === 'delivered') return;
      if (result === 'expired') {
        // The child carries on in the background; whatever it does now, this batch was answered.
        void outcome;
        this.#settings.logger.warn({ batch_size: batch.length }, 'Message dropped due to back pressure.');
        return this.#dropOrFail(batch, this.#backPressureError());
      }
      return this.#dropOrFail(batch, result.err);
    });
    return { accepted, delivered };
  }

  /**
   * Drops the messages whose failure matches `error`/`error_patterns`: they are given up as
   * `dropped` (never replayed; the engine tells their input, the run_ai ledger records a gap).
   * The rest keeps its failure. Rejects unless every message was delivered.
   */
  async #dropOrFail(batch: readonly Message[], err: unknown): Promise<void> {
    const outcome = outcomeOf(err, batch);
    let pattern: RegExp | undefined;
    const matches = (reason: string) => {
      if (this.#onAnyError) return true;
      const match = this.#patterns.find((p) => p.test(reason));
      pattern ??= match;
      return match !== undefined;
    };
    const dropped: GivenUp[] = [];
    const kept: GivenUp[] = [];
    const retry = outcome.retry.filter((message) => {
      if (!matches(outcome.reason)) return true;
      dropped.push({ message, kind: 'dropped', reason: `dropped by drop_on: ${outcome.reason}` });
      return false;
    });
    for (const g of outcome.givenUp) {
      if (g.kind === 'rejected' && matches(g.reason)) dropped.push({ message: g.message, kind: 'dropped', reason: `dropped by drop_on: ${g.reason}` });
      else kept.push(g);
    }
    if (dropped.length > 0) {
      const { metrics, label, path, logger } = this.#settings;
      metrics.counter('output_dropped', 'Messages an output dropped (acked without delivery) as configured.').inc({ label, path: componentPath(path) }, dropped.length);
      logger.warn(
        { dropped: dropped.length, batch_size: batch.length, ...(pattern ? { pattern: pattern.source } : {}), err: dropped[0]!.reason.replace(/^dropped by drop_on: /, '') },
        `Dropped ${dropped.length} message${dropped.length === 1 ? '' : 's'} the output failed to deliver.`,
      );
    }
    throw new DeliveryError(retry.length > 0 ? outcome.reason : (kept[0] ?? dropped[0])?.reason ?? outcome.reason, { undelivered: retry, givenUp: [...kept, ...dropped], cause: err });
  }

  #backPressureError(): Error {
    return new Error(`experienced back pressure beyond: ${this.#backPressure}`);
  }
}
