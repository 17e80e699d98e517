// Request bodies of an HTTP output, and what is left when some of their items fail: JSON-array
// bisection, multipart encoding, and the failure summaries the engine reads.
import { createHash } from 'node:crypto';
import { DeliveryError, type GivenUp } from '../../engine/delivery.js';
import type { Message } from '../../engine/message.js';
import { encodeText } from './support.js';

/** Why one request finally failed. */
export class RequestError extends Error {
  constructor(
    message: string,
    /** The response status; undefined for connection errors and timeouts. */
    readonly status: number | undefined,
    /** Whether the body was rejected as invalid (400/413/422 with split_on_bad_request): splitting may help. */
    readonly rejected: boolean,
  ) {
    super(message);
    this.name = 'RequestError';
  }
}


/** What is left of a set of items (events of an array body, or messages of a multipart body) after sending them. */
export interface Leftover<T> {
  readonly items: readonly T[];
  readonly error: RequestError;
}

/**
 * Sends `items` together; when they are rejected as invalid and `splits` allows it, sends each
 * half on its own, and so on down to single items, so only invalid items remain. Stops at the
 * first failure of another kind (the sink is then unavailable): the rest is left over with that
 * error. `knownFailure` is the failure `items` already met as a whole, so they are not sent again.
 */
export async function isolate<T>(
  items: readonly T[],
  send: (items: readonly T[]) => Promise<RequestError | undefined>,
  splits: (failure: RequestError) => boolean,
  knownFailure?: RequestError,
): Promise<Leftover<T>[]> {
  const failure = knownFailure ?? (await send(items));
  if (!failure) return [];
  if (!splits(failure) || items.length < 2) return [{ items, error: failure }];
  const middle = Math.ceil(items.length / 2);
  const first = await isolate(items.slice(0, middle), send, splits);
  if (first.some((left) => !left.error.rejected)) return [...first, { items: items.slice(middle), error: first.find((l) => !l.error.rejected)!.error }];
  return [...first, ...(await isolate(items.slice(middle), send, splits))];
}

/**
 * The exact text of each element of a JSON array, so a half of a batch re-sends every event's
 * bytes unchanged. Undefined when `text` is not a single JSON array.
 */
export function splitJsonArray(text: string): string[] | undefined {
  let i = skipSpace(text, 0);
  if (text[i] !== '[') return undefined;
  const elements: string[] = [];
  let depth = 0;
  let start = i + 1;
  let inString = false;
  for (; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') {
      depth--;
      if (depth === 0) break;
    } else if (c === ',' && depth === 1) {
      elements.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  if (depth !== 0 || skipSpace(text, i + 1) !== text.length) return undefined;
  const last = text.slice(start, i).trim();
  if (last !== '') elements.push(last);
  else if (elements.length > 0) return undefined;
  return elements.some((e) => e === '') ? undefined : elements;
}

function skipSpace(text: string, from: number): number {
  let i = from;
  while (i < text.length && /\s/.test(text[i]!)) i++;
  return i;
}

/** A multipart/form-data body; the boundary derives from the parts, so the same parts give the same bytes. */
export function multipartBody(parts: { headers: Record<string, string>; body: Uint8Array }[]): { contentType: string; body: Uint8Array } {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part.body);
  const boundary = `sluice-${hash.digest('hex').slice(0, 40)}`;
  const chunks: Uint8Array[] = [];
  for (const part of parts) {
    const head = Object.entries(part.headers).map(([name, value]) => `${name}: ${value}\r\n`).join('');
    chunks.push(encodeText(`--${boundary}\r\n${head}\r\n`), part.body, encodeText('\r\n'));
  }
  chunks.push(encodeText(`--${boundary}--\r\n`));
  return { contentType: `multipart/form-data; boundary=${boundary}`, body: Buffer.concat(chunks) };
}

/**
 * Builds the write() failure from what is left over: items the sink rejected as invalid on their
 * own (or as a whole that cannot be split further) are given up; the rest is undelivered.
 */
export function summarise<T>(
  leftovers: readonly Leftover<T>[],
  toMessages: (items: readonly T[]) => Message[],
  total: number,
  noun: string,
): DeliveryError | undefined {
  if (leftovers.length === 0) return undefined;
  const undelivered: Message[] = [];
  const givenUp: GivenUp[] = [];
  for (const { items, error } of leftovers) {
    const messages = toMessages(items);
    if (error.rejected) for (const message of messages) givenUp.push({ message, kind: 'rejected', reason: error.message });
    else undelivered.push(...messages);
  }
  const count = leftovers.reduce((n, l) => n + l.items.length, 0);
  const other = leftovers.find((l) => !l.error.rejected);
  const error = other?.error ?? leftovers[0]!.error;
  const text = count === total && leftovers.length === 1 ? error.message : `${count} of ${total} ${noun} ${other ? 'not delivered' : 'rejected'}: ${error.message}`;
  return new DeliveryError(text, { undelivered, givenUp, cause: error });
}

/** The failures of several messages sent one by one, as one. */
export function combine(failures: readonly DeliveryError[], total: number, noun: string): DeliveryError | undefined {
  if (failures.length === 0) return undefined;
  if (failures.length === 1 && total === 1) return failures[0];
  const undelivered = failures.flatMap((f) => f.undelivered ?? []);
  const givenUp = failures.flatMap((f) => f.givenUp);
  const first = failures.find((f) => (f.undelivered ?? []).length > 0) ?? failures[0]!;
  const verb = undelivered.length > 0 ? 'not delivered' : 'rejected';
  return new DeliveryError(`${undelivered.length + givenUp.length} of ${total} ${noun} ${verb}: ${first.message}`, { undelivered, givenUp, cause: first });
}

