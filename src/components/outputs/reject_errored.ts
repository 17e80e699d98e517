// Fails messages flagged by a failed processor (e.g. a mapping error) and sends the rest to a
// child output (Redpanda Connect's `reject_errored`). Inside `fallback` it routes errored
// messages to a dead-letter output.
import { defineOutput, type ChildOutput, type Output, type Settings, type Submission } from '../../engine/component.js';
import type { Message } from '../../engine/message.js';
import { deliveryError, undeliveredOf } from '../undelivered.js';

/** The child output's config itself: `reject_errored: { http_client: {...} }`. */
export type RejectErroredConfig = unknown;

export default defineOutput<RejectErroredConfig>({
  name: 'reject_errored',
  summary: 'Rejects messages flagged as errored by a processor and sends the others to a child output.',
  schema: { 'x-component': 'output', description: 'The output the messages without errors go to.' },
  example: { drop: {} },
  create: (config, settings) => new RejectErrored(config, settings),
});

class RejectErrored implements Output {
  #child: ChildOutput;
  /** Clean messages of a mixed batch the child delivered: when the engine replays the batch they are not sent twice. */
  #delivered = new WeakSet<Message>();

  constructor(config: RejectErroredConfig, settings: Settings) {
    this.#child = settings.build.output(config, settings.path);
  }

  connect(signal: AbortSignal): Promise<void> {
    return this.#child.connect(signal);
  }

  /**
   * Hands the messages without an error flag to the child; `delivered` then rejects if any
   * message had one, naming the errored messages as undelivered so `fallback` passes on only them.
   */
  submit(batch: readonly Message[]): Submission {
    const errored = batch.filter((m) => m.error !== undefined);
    if (errored.length === 0) return this.#child.submit(batch);
    const rejection = deliveryError(
      `rejecting ${errored.length} of ${batch.length} message${batch.length === 1 ? '' : 's'} due to failed processing: ${errored[0]!.error!.message}`,
      errored,
    );
    const clean = batch.filter((m) => m.error === undefined && !this.#delivered.has(m));
    if (clean.length === 0) return { accepted: Promise.resolve(), delivered: Promise.reject(rejection) };
    const submission = this.#child.submit(clean);
    const delivered = submission.delivered.then(
      () => {
        for (const m of clean) this.#delivered.add(m);
        throw rejection;
      },
      (err: unknown) => {
        const undelivered = [...errored, ...undeliveredOf(err, clean)];
        throw deliveryError(err instanceof Error ? err.message : String(err), undelivered, err);
      },
    );
    return { accepted: submission.accepted, delivered };
  }

  async write(batch: readonly Message[]): Promise<void> {
    const submission = this.submit(batch);
    // Both at once: a delivery that fails before acceptance must not go unhandled.
    await Promise.all([submission.accepted, submission.delivered]);
  }

  flush(): Promise<void> {
    return this.#child.flush();
  }

  close(): Promise<void> {
    return this.#child.close();
  }
}
