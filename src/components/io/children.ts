// Hand-over of parts of a batch to child outputs, for outputs that route (`switch`, `broker`): one
// message may go to several children, and the batch is delivered once every part is.
import type { ChildOutput, Submission } from '../../engine/component.js';
import { DeliveryError, outcomeOf, type GivenUp } from '../../engine/delivery.js';
import type { Message } from '../../engine/message.js';
import type { Logger } from 'pino';
import { sleep } from '../../engine/sleep.js';

/** One part: the messages a child is handed. */
export interface Part {
  readonly child: ChildOutput;
  readonly messages: readonly Message[];
}

const FIRST_WAIT_MS = 100;
const MAX_WAIT_MS = 3_000;

/**
 * Submits a part; with `untilSuccess`, a failure re-submits what may still be delivered (with
 * back-off) until the child delivers it or `closing` aborts: then only messages given up (rejected,
 * dropped) fail the part. Without it, the first failure fails the part.
 */
export function submitPart(part: Part, untilSuccess: boolean, closing: AbortSignal, logger: Logger): Submission {
  const first = part.child.submit(part.messages);
  if (!untilSuccess) return first;
  const retry = async (messages: readonly Message[], err: unknown, givenUp: GivenUp[], wait: number): Promise<void> => {
    const outcome = outcomeOf(err, messages);
    givenUp.push(...outcome.givenUp);
    if (outcome.retry.length === 0 || closing.aborted) {
      throw new DeliveryError(outcome.reason, { undelivered: closing.aborted ? outcome.retry : [], givenUp, cause: err });
    }
    logger.warn({ err: outcome.reason, messages: outcome.retry.length }, 'Delivery to a child output failed, retrying until it succeeds.');
    await sleep(wait, closing);
    const again = part.child.submit(outcome.retry);
    try {
      await Promise.all([again.accepted, again.delivered]);
    } catch (next) {
      return retry(outcome.retry, next, givenUp, Math.min(wait * 2, MAX_WAIT_MS));
    }
    if (givenUp.length > 0) throw new DeliveryError(givenUp[0]!.reason, { undelivered: [], givenUp });
  };
  return { accepted: first.accepted, delivered: first.delivered.catch((err: unknown) => retry(part.messages, err, [], FIRST_WAIT_MS)) };
}

/**
 * The parts of one batch delivered as one: resolves once every part was, else rejects with a
 * DeliveryError naming each message of the batch still to send (once, though it may be in several
 * parts) and each given up. `extra` adds failures found before any hand-over (no route, strict).
 */
export function combine(parts: readonly { readonly messages: readonly Message[]; readonly submission: Submission }[], extra: { undelivered: Message[]; reason: string } | undefined): Submission {
  const accepted = Promise.all(parts.map((p) => p.submission.accepted)).then(() => {});
  const delivered = Promise.allSettled(parts.map((p) => p.submission.delivered)).then((results) => {
    const undelivered = new Set<Message>(extra?.undelivered ?? []);
    const givenUp = new Map<Message, GivenUp>();
    let first: unknown = extra ? new Error(extra.reason) : undefined;
    results.forEach((result, i) => {
      if (result.status === 'fulfilled') return;
      first ??= result.reason;
      const outcome = outcomeOf(result.reason, parts[i]!.messages);
      for (const m of outcome.retry) undelivered.add(m);
      for (const g of outcome.givenUp) if (!givenUp.has(g.message)) givenUp.set(g.message, g);
    });
    if (first === undefined) return;
    for (const m of givenUp.keys()) undelivered.delete(m);
    throw new DeliveryError(first instanceof Error ? first.message : String(first), { undelivered: [...undelivered], givenUp: [...givenUp.values()], cause: first });
  });
  // Both observed: a part failing before all are accepted must not go unhandled.
  accepted.catch(() => {});
  return { accepted, delivered };
}
