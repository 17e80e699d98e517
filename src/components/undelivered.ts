// How an output says which messages of a failed delivery were not delivered, so wrappers act on
// exactly those: `fallback` routes only them to the next output, `drop_on` counts only them.
// (A cross-component contract: it belongs next to Output in engine/component.ts once adopted.)
import type { Message } from '../engine/message.js';

/**
 * A write()/delivery failure. `undelivered`, when present, lists every message not delivered:
 * messages of the batch itself, or new messages standing for part of one (the rejected events of
 * an archived JSON array, one message each). Absent means nothing is known: all were not delivered.
 */
export interface DeliveryError extends Error {
  undelivered?: readonly Message[];
}

export function deliveryError(message: string, undelivered: readonly Message[], cause?: unknown): DeliveryError {
  const error: DeliveryError = new Error(message, cause === undefined ? undefined : { cause });
  error.undelivered = undelivered;
  return error;
}

/**
 * The messages of `batch` that `error` says were not delivered: those it names, or equal to one
 * it names in JSON content (how an archived batch's events are found again); of a message of
 * `batch` that is itself a JSON array (an archived batch), the named messages matching its
 * elements. When the error names nothing, or nothing that matches, all of `batch`: a wrong guess
 * then costs a duplicate, never a loss.
 */
export function undeliveredOf(error: unknown, batch: readonly Message[]): readonly Message[] {
  const named = (error as DeliveryError | undefined)?.undelivered;
  if (!Array.isArray(named) || named.length === 0) return batch;
  const byIdentity = new Set<Message>(named);
  const byContent = new Map(named.map((m) => [canonical(m), m]));
  const matched: Message[] = [];
  for (const message of batch) {
    if (byIdentity.has(message) || byContent.has(canonical(message))) {
      matched.push(message);
      continue;
    }
    const elements = arrayOf(message);
    for (const element of elements ?? []) {
      const event = byContent.get(JSON.stringify(element));
      if (event) matched.push(event.withMetadata(message.metadata));
    }
  }
  return matched.length > 0 ? matched : batch;
}

function arrayOf(message: Message): unknown[] | undefined {
  try {
    const value = message.json();
    return Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** A message's content in one spelling: compact JSON when it is JSON, else its text. */
function canonical(message: Message): string {
  try {
    return JSON.stringify(message.json());
  } catch {
    return message.text();
  }
}
