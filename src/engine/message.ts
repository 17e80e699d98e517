/** Any value JSON can carry. Message bodies parse to this. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Typed metadata, as Redpanda Connect keeps it: values are strings, numbers, booleans or objects. */
export type Metadata = Readonly<Record<string, unknown>>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const NO_VALUE = Symbol('no value');
/** The metadata of a message created without any: shared, since metadata is never mutated. */
const NO_METADATA: Metadata = Object.freeze({});

/**
 * One record flowing through a pipeline. Immutable: the `with*` methods return a new message.
 *
 * A message holds its body as bytes, as text, as a structured value, or several of these. Each is
 * derived lazily from another and cached, so a JSON body produced by a mapping is serialised once,
 * and a line read as text is parsed without being encoded to bytes and decoded again. A retry
 * re-sends the same bytes.
 */
export class Message {
  #bytes: Uint8Array | undefined;
  #text: string | undefined;
  #value: unknown = NO_VALUE;
  #trace: Message;
  #archive: Archive | undefined;
  /** The body was made as a value (fromJSON, withJSON), not parsed from bytes or text. */
  #madeAsValue: boolean;
  /** Metadata carried alongside the body; never sent unless an output is told to. */
  readonly metadata: Metadata;
  /** Set when a processor failed on this message (Connect's error flag); cleared by `catch`. */
  readonly error: Error | undefined;

  private constructor(
    bytes: Uint8Array | undefined,
    text: string | undefined,
    value: unknown,
    metadata: Metadata,
    error: Error | undefined,
    trace?: Message,
    archive?: Archive,
  ) {
    this.#bytes = bytes;
    this.#text = text;
    this.#value = value;
    this.metadata = metadata;
    this.error = error;
    this.#trace = trace ?? this;
    this.#archive = archive;
    this.#madeAsValue = bytes === undefined && text === undefined && value !== NO_VALUE;
  }

  /** A message whose body is these bytes, or the UTF-8 encoding of this text. */
  static fromBytes(bytes: Uint8Array | string, metadata: Metadata = NO_METADATA): Message {
    return typeof bytes === 'string' ? new Message(undefined, bytes, NO_VALUE, metadata, undefined) : new Message(bytes, undefined, NO_VALUE, metadata, undefined);
  }

  /** A message whose body is a structured value; it is serialised as compact JSON when text or bytes are needed. */
  static fromJSON(value: unknown, metadata: Metadata = NO_METADATA): Message {
    return new Message(undefined, undefined, value, metadata, undefined);
  }

  /**
   * One message standing for `parts` (an archive of a batch), its body `encode(parts)`, encoded
   * now so that a body that cannot be encoded fails here. A failure an output reports for the
   * archive or for some of its parts is traced back to the parts, and the parts left to send can
   * be archived again alone (see engine/delivery.ts).
   */
  static archiveOf(parts: readonly Message[], encode: (parts: readonly Message[]) => Uint8Array, metadata: Metadata = NO_METADATA): Message {
    return new Message(encode(parts), undefined, NO_VALUE, metadata, undefined, undefined, { parts, encode });
  }

  /**
   * The message this one derives from, as an input read it: every `with*` copy keeps its
   * origin's trace, so a delivery failure of a processed message is traced back to its read.
   */
  get trace(): Message {
    return this.#trace;
  }

  /** The messages an archive stands for, in order; undefined for any other message. */
  get parts(): readonly Message[] | undefined {
    return this.#archive?.parts;
  }

  /** An archive of some of this archive's parts, encoded the same way, with this one's metadata. Throws on a message that is no archive. */
  rearchive(parts: readonly Message[]): Message {
    if (!this.#archive) throw new Error('not an archive');
    return Message.archiveOf(parts, this.#archive.encode, this.metadata);
  }

  /** The body as bytes: its text's UTF-8 encoding. */
  bytes(): Uint8Array {
    this.#bytes ??= encoder.encode(this.text());
    return this.#bytes;
  }

  /** The body as text. A string value is itself (no quotes), any other value compact JSON; throws when it cannot be encoded. */
  text(): string {
    if (this.#text === undefined) {
      if (this.#bytes !== undefined) this.#text = decoder.decode(this.#bytes);
      else this.#text = typeof this.#value === 'string' ? this.#value : toJSONText(this.#value);
    }
    return this.#text;
  }

  /** The body as a structured value, parsing the bytes as JSON on first use. Throws when they are not JSON. */
  json(): unknown {
    if (this.#value === NO_VALUE) {
      const text = this.text();
      try {
        this.#value = JSON.parse(text);
      } catch (err) {
        throw new Error(`failed to parse message as JSON: ${(err as Error).message}`);
      }
    }
    return this.#value;
  }

  /** Whether the body is already held as a structured value (no parse needed). */
  get isStructured(): boolean {
    return this.#value !== NO_VALUE && typeof this.#value !== 'string';
  }

  /**
   * Whether the body is a structured value (not a string) that was made as one, not parsed from
   * bytes: its text is exactly that value's compact JSON (see toJSONText), so the bodies of several
   * such messages can be encoded in one go.
   */
  get madeStructured(): boolean {
    return this.#madeAsValue && typeof this.#value !== 'string';
  }

  /**
   * Throws now when the body cannot be encoded (a non-finite number, nesting too deep), so a
   * processor can flag the message instead of each attempt to send it failing. A walk of the
   * value answers without encoding it, except where only encoding can tell.
   */
  assertEncodable(): void {
    if (this.#text !== undefined || this.#bytes !== undefined || typeof this.#value === 'string') return;
    if (!needsNoReplacer(this.#value, 0)) this.text();
  }

  /**
   * Drops the parsed form of the body when it can be parsed again from the bytes or text it came
   * from. A processor that replaced this message's body calls it: the original then stays alive
   * only as the trace of its read (until delivery), and need not hold a second body meanwhile.
   * Only the cache goes (this message's and its trace's, which copies share); the body, and
   * anything built from it, is unchanged.
   */
  releaseParsed(): void {
    this.#release();
    this.#trace.#release();
  }

  #release(): void {
    if (this.#value !== NO_VALUE && (this.#text !== undefined || this.#bytes !== undefined)) this.#value = NO_VALUE;
  }

  /** Byte length of the body, as batching's `byte_size` counts it (metadata excluded). */
  get byteLength(): number {
    return this.#bytes?.byteLength ?? Buffer.byteLength(this.text());
  }

  // A new body no longer holds an archive's parts; new metadata or an error flag still does.
  withJSON(value: unknown): Message {
    return new Message(undefined, undefined, value, this.metadata, this.error, this.#trace);
  }

  withBytes(bytes: Uint8Array | string): Message {
    return typeof bytes === 'string'
      ? new Message(undefined, bytes, NO_VALUE, this.metadata, this.error, this.#trace)
      : new Message(bytes, undefined, NO_VALUE, this.metadata, this.error, this.#trace);
  }

  withMetadata(metadata: Metadata): Message {
    return this.#copy(metadata, this.error);
  }

  withError(error: Error | undefined): Message {
    return this.#copy(this.metadata, error);
  }

  /** The same body (with what was derived of it so far), new metadata or error flag. */
  #copy(metadata: Metadata, error: Error | undefined): Message {
    const copy = new Message(this.#bytes, this.#text, this.#value, metadata, error, this.#trace, this.#archive);
    copy.#madeAsValue = this.#madeAsValue;
    return copy;
  }
}

/** What an archive message keeps of its making. */
interface Archive {
  readonly parts: readonly Message[];
  readonly encode: (parts: readonly Message[]) => Uint8Array;
}

/**
 * Compact JSON as the wire needs it. `undefined` (JSONata's "nothing") becomes `null` so a body is
 * never empty; non-finite numbers are an error rather than a silent `null` in a billing event.
 */
export function toJSONText(value: unknown): string {
  // A replacer takes JSON.stringify off V8's fast path (about twice the time for a batch of
  // events), so plain JSON.stringify goes first. It throws on a bigint, and writes a non-finite
  // number as null: output without "null" in it needs no check, other output is checked by a walk.
  let plain: string | undefined;
  try {
    plain = JSON.stringify(value) ?? 'null';
  } catch {
    // A bigint or a cycle: the checked path below converts or reports it.
  }
  if (plain !== undefined && (!plain.includes('null') || needsNoReplacer(value, 0))) return plain;
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'number' && !Number.isFinite(v)) throw new Error(`cannot encode ${v} as JSON`);
    if (typeof v === 'bigint') return Number(v);
    return v;
  });
  return text ?? 'null';
}

const MAX_PLAIN_DEPTH = 100;

/**
 * True when plain JSON.stringify encodes `value` as toJSONText must: no non-finite number, no
 * bigint, no toJSON() whose result would need checking. Unsure (very deep or cyclic values)
 * answers false, leaving them to the checked path.
 */
function needsNoReplacer(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'number':
      return Number.isFinite(value);
    case 'bigint':
      return false;
    case 'object': {
      if (value === null) return true;
      if (depth >= MAX_PLAIN_DEPTH) return false;
      if (Array.isArray(value)) {
        for (const item of value) if (!needsNoReplacer(item, depth + 1)) return false;
        return true;
      }
      if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return false;
      for (const key in value) if (!needsNoReplacer((value as Record<string, unknown>)[key], depth + 1)) return false;
      return true;
    }
    default:
      return true;
  }
}

/**
 * A metadata value as a string, as Connect's `meta()` and header interpolation render it: strings
 * as they are, numbers and booleans in their usual text, dates as RFC 3339, anything else as JSON.
 */
export function metadataString(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return toJSONText(value);
}
