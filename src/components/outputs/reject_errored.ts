// Fails messages flagged by a failed processor (e.g. a mapping error) and sends the rest to a
// child output (Redpanda Connect's `reject_errored`). Inside `fallback` it routes errored
// messages to a dead-letter output.
import { defineOutput, type Settings, type Submission } from '../../engine/component.js';
import type { Message } from '../../engine/message.js';
import { WrapperOutput } from './wrapper.js';
import { DeliveryError, outcomeOf } from '../../engine/delivery.js';

/** The child output's config itself: `reject_errored: { http_client: {...} }`. */
export type RejectErroredConfig = unknown;

export default defineOutput<RejectErroredConfig>({
  name: 'reject_errored',
  summary: 'Rejects messages flagged as errored by a processor and sends the others to a child output.',
  schema: { 'x-component': 'output', description: 'The output the messages without errors go to.' },
  example: { drop: {} },
  create: (config, settings) => new RejectErrored(config, settings),
});

class RejectErrored extends WrapperOutput {
  constructor(config: RejectErroredConfig, settings: Settings) {
    super([settings.build.output(config, settings.path)]);
  }

  /**
   * Hands the messages without an error flag to the child; `delivered` then rejects if any
   * message had one, giving the errored ones up as rejected (`fallback` passes them on; the
   * engine never replays them, since a replay cannot un-fail a processor).
   */
  submit(batch: readonly Message[]): Submission {
    const errored = batch.filter((m) => m.error !== undefined);
    if (errored.length === 0) return this.children[0]!.submit(batch);
    const reason = `rejecting ${errored.length} of ${batch.length} message${batch.length === 1 ? '' : 's'} due to failed processing: ${errored[0]!.error!.message}`;
    const givenUp = errored.map((message) => ({ message, kind: 'rejected' as const, reason: `rejected due to failed processing: ${message.error!.message}` }));
    const clean = batch.filter((m) => m.error === undefined);
    if (clean.length === 0) return { accepted: Promise.resolve(), delivered: Promise.reject(new DeliveryError(reason, { undelivered: [], givenUp })) };
    const submission = this.children[0]!.submit(clean);
    const delivered = submission.delivered.then(
      () => {
        throw new DeliveryError(reason, { undelivered: [], givenUp });
      },
      (err: unknown) => {
        const outcome = outcomeOf(err, clean);
        throw new DeliveryError(outcome.reason, { undelivered: outcome.retry, givenUp: [...outcome.givenUp, ...givenUp], cause: err });
      },
    );
    return { accepted: submission.accepted, delivered };
  }


}
