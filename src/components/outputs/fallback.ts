// Tries child outputs in order until one accepts the messages (Redpanda Connect's `fallback`
// output): the usual way to build a dead-letter path. Messages passed on carry the previous
// failure in the `fallback_error` metadata.
import { defineOutput, type ChildOutput, type Output, type Settings, type Submission } from '../../engine/component.js';
import type { Message } from '../../engine/message.js';
import { undeliveredOf } from '../undelivered.js';

export type FallbackConfig = unknown[];

export default defineOutput<FallbackConfig>({
  name: 'fallback',
  summary: 'Tries each child output in turn until one accepts the messages, adding `fallback_error` metadata.',
  schema: { type: 'array', minItems: 1, items: { 'x-component': 'output' }, description: 'The outputs to try, in order.' },
  example: [{ drop: {} }],
  create: (config, settings) => new Fallback(config, settings),
});

class Fallback implements Output {
  #children: ChildOutput[];

  constructor(config: FallbackConfig, settings: Settings) {
    this.#children = config.map((child, i) => settings.build.output(child, `${settings.path}[${i}]`));
  }

  async connect(signal: AbortSignal): Promise<void> {
    await Promise.all(this.#children.map((child) => child.connect(signal)));
  }

  /**
   * Hands the batch to the first child; what it fails to deliver goes to the next, and so on.
   * Only the messages a failure names as undelivered move on (e.g. just the rejected events of an
   * archived batch); when it names none, all do. `delivered` rejects with the last child's error.
   */
  submit(batch: readonly Message[]): Submission {
    const first = this.#children[0]!.submit(batch);
    return { accepted: first.accepted, delivered: first.delivered.catch((err: unknown) => this.#fallThrough(1, batch, err)) };
  }

  async write(batch: readonly Message[]): Promise<void> {
    const submission = this.submit(batch);
    // Both at once: a delivery that fails before acceptance must not go unhandled.
    await Promise.all([submission.accepted, submission.delivered]);
  }

  async flush(): Promise<void> {
    await Promise.all(this.#children.map((child) => child.flush()));
  }

  async close(): Promise<void> {
    await Promise.all(this.#children.map((child) => child.close()));
  }

  async #fallThrough(next: number, failed: readonly Message[], err: unknown): Promise<void> {
    const child = this.#children[next];
    if (!child) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    const pending = undeliveredOf(err, failed).map((m) => m.withMetadata({ ...m.metadata, fallback_error: reason }));
    const submission = child.submit(pending);
    try {
      // Both at once: a delivery that fails before acceptance must not go unhandled.
      await Promise.all([submission.accepted, submission.delivered]);
    } catch (childErr) {
      return this.#fallThrough(next + 1, pending, childErr);
    }
  }
}
