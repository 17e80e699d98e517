// How a failed delivery says what happened to each message, so that every layer acts on exactly
// the messages concerned: the engine replays only what may still be delivered, wrappers
// (`fallback`, `drop_on`, `retry`) route or drop only what failed, and an input learns which of
// its messages will never be delivered (the run_ai ledger records them as gaps).
//
// A failure names messages as its writer saw them: the batch it was given, the parts of an
// archive, or new messages standing for an archive's elements. `outcomeOf` traces them back to
// the batch a layer submitted: by identity, then by trace (the message each one derives from,
// see Message.trace), then by content. Where nothing can be traced, every message not known to
// be final counts as undelivered: a wrong guess then costs a duplicate, never a loss.
import type { Logger } from 'pino';
import type { Message } from './message.js';
import type { Metrics } from './metrics.js';

/** Why a message will never be delivered. */
export type GivenUpKind =
  /** The sink refused it as invalid, it could not be encoded, or a processor failed on it (strict). */
  | 'rejected'
  /** An output dropped it as configured (`drop_on`). */
  | 'dropped';

/** A message whose delivery is final without success: it must not be sent again. */
export interface GivenUp {
  readonly message: Message;
  readonly kind: GivenUpKind;
  readonly reason: string;
}

/**
 * A failed delivery. `undelivered` lists the messages that a later attempt may still deliver (the
 * engine replays them); absent, it means every message not in `givenUp`. `givenUp` lists the
 * messages that will never be delivered. A message in neither was delivered.
 */
export class DeliveryError extends Error {
  readonly undelivered: readonly Message[] | undefined;
  readonly givenUp: readonly GivenUp[];

  constructor(message: string, options: { undelivered?: readonly Message[]; givenUp?: readonly GivenUp[]; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DeliveryError';
    this.undelivered = options.undelivered;
    this.givenUp = options.givenUp ?? [];
  }
}

/** What became of the messages of one submitted batch, according to a failure. */
export interface Outcome {
  /** Messages to send again: members of the batch, or archives of a member's parts still to send. */
  readonly retry: Message[];
  /** Messages given up: members of the batch, or parts of a member archive. */
  readonly givenUp: GivenUp[];
  /** The failure's message, for the messages to retry. */
  readonly reason: string;
  /** Per member of the batch not delivered in full: what of it to send again and what is final. */
  readonly byMember: ReadonlyMap<Message, { readonly retry?: Message; readonly givenUp: readonly GivenUp[] }>;
}

/** Traces a delivery failure back to the messages of `batch` (see the file comment). */
export function outcomeOf(error: unknown, batch: readonly Message[]): Outcome {
  const reason = error instanceof Error ? error.message : String(error);
  if (!(error instanceof DeliveryError)) return wholeBatch(batch, reason);
  const index = new BatchIndex(batch);
  // Per member: undefined = all of it, else the parts concerned (of a member archive).
  const final = new Map<Message, GivenUp | Map<Message, GivenUp>>();
  const pending = new Map<Message, true | Set<Message>>();
  for (const entry of error.givenUp) {
    const found = index.find(entry.message);
    if (found.length === 0) return wholeBatch(batch, reason, error.givenUp);
    for (const { member, part } of found) {
      if (part === undefined) final.set(member, { ...entry, message: member });
      else {
        const parts = final.get(member);
        if (parts instanceof Map) parts.set(part, { ...entry, message: part });
        else if (parts === undefined) final.set(member, new Map([[part, { ...entry, message: part }]]));
      }
    }
  }
  if (error.undelivered === undefined) {
    for (const member of batch) {
      const gave = final.get(member);
      if (gave === undefined || gave instanceof Map) pending.set(member, true);
    }
  } else {
    for (const message of error.undelivered) {
      const found = index.find(message);
      if (found.length === 0) return wholeBatch(batch, reason, error.givenUp);
      for (const { member, part } of found) {
        const current = pending.get(member);
        if (part === undefined) pending.set(member, true);
        else if (current === undefined) pending.set(member, new Set([part]));
        else if (current instanceof Set) current.add(part);
      }
    }
  }
  const retry: Message[] = [];
  const givenUp: GivenUp[] = [];
  const byMember = new Map<Message, { retry?: Message; givenUp: GivenUp[] }>();
  for (const member of batch) {
    const gave = final.get(member);
    const wants = pending.get(member);
    if (gave === undefined && wants === undefined) continue;
    if (gave !== undefined && !(gave instanceof Map)) {
      givenUp.push(gave);
      byMember.set(member, { givenUp: [gave] });
      continue;
    }
    const partsGiven = gave ? [...gave.values()] : [];
    let again: Message | undefined;
    if (wants === true) {
      // All of the member is to be sent again, except the parts given up.
      again = partsGiven.length === 0 ? member : member.rearchive(member.parts!.filter((p) => !gave!.has(p)));
    } else if (wants !== undefined) {
      again = member.rearchive(member.parts!.filter((p) => wants.has(p) && !gave?.has(p)));
    }
    if (again?.parts?.length === 0) again = undefined;
    if (again) retry.push(again);
    givenUp.push(...partsGiven);
    byMember.set(member, { ...(again ? { retry: again } : {}), givenUp: partsGiven });
  }
  return { retry, givenUp, reason, byMember };
}

/** Every member to send again, but for members named given up as such. */
function wholeBatch(batch: readonly Message[], reason: string, givenUp: readonly GivenUp[] = []): Outcome {
  const final = new Map(givenUp.map((g) => [g.message, g]));
  const byMember = new Map<Message, { retry?: Message; givenUp: GivenUp[] }>();
  const retry: Message[] = [];
  const gave: GivenUp[] = [];
  for (const member of batch) {
    const entry = final.get(member);
    if (entry) {
      gave.push(entry);
      byMember.set(member, { givenUp: [entry] });
    } else {
      retry.push(member);
      byMember.set(member, { retry: member, givenUp: [] });
    }
  }
  return { retry, givenUp: gave, reason, byMember };
}

/**
 * Finds what a message named by a failure stands for in a batch: members (`part` undefined), or
 * parts of a member archive. An archive named whole stands for its parts; a message not in the
 * batch is found by identity among the parts of member archives, then by its trace, then by content.
 */
class BatchIndex {
  #batch: readonly Message[];
  #members: Set<Message>;
  #partOf: Map<Message, Message> | undefined;
  #byTrace: Map<Message, Message[]> | undefined;
  #byContent: Map<string, Message[]> | undefined;

  constructor(batch: readonly Message[]) {
    this.#batch = batch;
    this.#members = new Set(batch);
  }

  find(message: Message): { member: Message; part?: Message }[] {
    if (this.#members.has(message)) return [{ member: message }];
    const owner = this.#parts().get(message);
    if (owner) return [{ member: owner, part: message }];
    if (message.parts) return message.parts.flatMap((part) => this.find(part));
    const traced = this.#traces().get(message.trace) ?? [];
    if (traced.length === 1) return [{ member: traced[0]! }];
    const alike = this.#contents().get(canonical(message)) ?? [];
    if (traced.length > 1) {
      const both = traced.filter((m) => alike.includes(m));
      return (both.length > 0 ? both.slice(0, 1) : traced).map((member) => ({ member }));
    }
    return alike.slice(0, 1).map((member) => ({ member }));
  }

  #parts(): Map<Message, Message> {
    if (!this.#partOf) {
      this.#partOf = new Map();
      for (const m of this.#batch) for (const part of m.parts ?? []) this.#partOf.set(part, m);
    }
    return this.#partOf;
  }

  #traces(): Map<Message, Message[]> {
    if (!this.#byTrace) {
      this.#byTrace = new Map();
      for (const m of this.#batch) push(this.#byTrace, m.trace, m);
    }
    return this.#byTrace;
  }

  #contents(): Map<string, Message[]> {
    if (!this.#byContent) {
      this.#byContent = new Map();
      for (const m of this.#batch) push(this.#byContent, canonical(m), m);
    }
    return this.#byContent;
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** A message's content in one spelling: compact JSON when it is JSON, else its text. */
function canonical(message: Message): string {
  try {
    return JSON.stringify(message.json());
  } catch {
    try {
      return message.text();
    } catch {
      return '';
    }
  }
}

/**
 * Waits for the deliveries of several parts of one batch and reports them as one: resolves when
 * every part was delivered, else rejects with a DeliveryError listing what each failed part left
 * undelivered or gave up (a plain failure leaves its whole part undelivered).
 */
export async function allDelivered(parts: readonly { readonly messages: readonly Message[]; readonly delivered: Promise<void> }[]): Promise<void> {
  const results = await Promise.allSettled(parts.map((p) => p.delivered));
  const undelivered: Message[] = [];
  const givenUp: GivenUp[] = [];
  let first: unknown;
  for (const [i, result] of results.entries()) {
    if (result.status === 'fulfilled') continue;
    first ??= result.reason;
    const error = result.reason;
    if (error instanceof DeliveryError) {
      givenUp.push(...error.givenUp);
      if (error.undelivered) undelivered.push(...error.undelivered);
      else {
        const final = new Set(error.givenUp.map((g) => g.message));
        undelivered.push(...parts[i]!.messages.filter((m) => !final.has(m)));
      }
    } else {
      undelivered.push(...parts[i]!.messages);
    }
  }
  if (first === undefined) return;
  if (results.length === 1) throw first;
  throw new DeliveryError(first instanceof Error ? first.message : String(first), { undelivered, givenUp, cause: first });
}

/**
 * The ack error an input receives when some of its messages will never be delivered: `items`
 * names them (by index in the batch read; undefined when a failure could not be traced to one)
 * with why. Every other message of the read was delivered: the input must not send the read again.
 */
export class Undeliverable extends Error {
  constructor(readonly items: readonly { readonly index: number | undefined; readonly kind: GivenUpKind; readonly reason: string }[]) {
    const first = items[0];
    super(`${items.length} message${items.length === 1 ? '' : 's'} will not be delivered${first ? `: ${first.reason}` : ''}`);
    this.name = 'Undeliverable';
  }
}

/**
 * Logs and counts messages given up, once where the decision lands (the engine for what an output
 * gave up, the buffer for what it gave up downstream of itself): rejected ones in output_rejected
 * and an error line per reason; dropped ones were logged and counted by the output that dropped them.
 */
export function reportGivenUp(givenUp: readonly GivenUp[], to: { logger: Logger; metrics: Metrics; label: string; path: string }): void {
  const byReason = new Map<string, number>();
  for (const g of givenUp) if (g.kind === 'rejected') byReason.set(g.reason, (byReason.get(g.reason) ?? 0) + 1);
  if (byReason.size === 0) return;
  const total = [...byReason.values()].reduce((a, b) => a + b, 0);
  to.metrics.counter('output_rejected', 'Messages given up as invalid (rejected by the sink, unencodable, or failed by a processor in strict mode): never sent again.').labels(to.label, to.path).inc(total);
  for (const [reason, count] of byReason) {
    to.logger.error({ messages: count, err: reason }, `Gave up ${count} message${count === 1 ? '' : 's'} that will not be delivered.`);
  }
}
