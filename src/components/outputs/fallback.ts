// Tries child outputs in order until one accepts the messages (Redpanda Connect's `fallback`
// output): the usual way to build a dead-letter path. Messages passed on carry the previous
// failure in the `fallback_error` metadata.
import { defineOutput, type Settings, type Submission } from '../../engine/component.js';
import type { Message } from '../../engine/message.js';
import { WrapperOutput } from './wrapper.js';
import { DeliveryError, outcomeOf, type GivenUp } from '../../engine/delivery.js';

export type FallbackConfig = unknown[];

export default defineOutput<FallbackConfig>({
  name: 'fallback',
  summary: 'Tries each child output in turn until one accepts the messages, adding `fallback_error` metadata.',
  schema: { type: 'array', minItems: 1, items: { 'x-component': 'output' }, description: 'The outputs to try, in order.' },
  example: [{ drop: {} }],
  create: (config, settings) => new Fallback(config, settings),
});

class Fallback extends WrapperOutput {
  constructor(config: FallbackConfig, settings: Settings) {
    super(config.map((child, i) => settings.build.output(child, `${settings.path}[${i}]`)));
  }

  /**
   * Hands the batch to the first child; what it fails to deliver goes to the next, and so on:
   * messages left undelivered and messages the child rejected as invalid (the dead-letter
   * pattern), not messages a child dropped as configured. `delivered` rejects with what the last
   * child could not deliver, and with what was dropped on the way.
   */
  submit(batch: readonly Message[]): Submission {
    const first = this.children[0]!.submit(batch);
    return { accepted: first.accepted, delivered: first.delivered.catch((err: unknown) => this.#fallThrough(1, batch, err, [])) };
  }

  async #fallThrough(next: number, failed: readonly Message[], err: unknown, dropped: readonly GivenUp[]): Promise<void> {
    const outcome = outcomeOf(err, failed);
    const droppedHere = outcome.givenUp.filter((g) => g.kind === 'dropped');
    const allDropped = [...dropped, ...droppedHere];
    const child = this.children[next];
    if (!child) {
      const rejected = outcome.givenUp.filter((g) => g.kind !== 'dropped');
      throw new DeliveryError(outcome.reason, { undelivered: outcome.retry, givenUp: [...rejected, ...allDropped], cause: err });
    }
    const pending = [
      ...outcome.retry.map((m) => m.withMetadata({ ...m.metadata, fallback_error: outcome.reason })),
      ...outcome.givenUp.filter((g) => g.kind !== 'dropped').map((g) => g.message.withMetadata({ ...g.message.metadata, fallback_error: g.reason })),
    ];
    if (pending.length === 0) {
      if (allDropped.length === 0) return;
      throw new DeliveryError(allDropped[0]!.reason, { undelivered: [], givenUp: allDropped });
    }
    const submission = child.submit(pending);
    try {
      // Both at once: a delivery that fails before acceptance must not go unhandled.
      await Promise.all([submission.accepted, submission.delivered]);
    } catch (childErr) {
      return this.#fallThrough(next + 1, pending, childErr, allDropped);
    }
    if (allDropped.length > 0) throw new DeliveryError(allDropped[0]!.reason, { undelivered: [], givenUp: allDropped });
  }
}
