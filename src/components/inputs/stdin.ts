import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { text } from 'node:stream/consumers';
import type { Logger } from 'pino';
import { defineInput, type Input, type ReadResult } from '../../engine/component.js';
import { Message } from '../../engine/message.js';

interface StdinConfig {
  codec: 'lines' | 'all-bytes';
  scanner?: { lines?: { custom_delimiter: string; max_buffer_size: number }; to_the_end?: Record<string, never> };
  auto_replay_nacks: boolean;
}

/** Lines one read returns at most: every complete line already received, up to this many. */
export const MAX_LINES_PER_READ = 1024;
/** Text held unread above which reading from stdin pauses until the pipeline catches up. */
const HIGH_WATER_CHARS = 8 * 1024 * 1024;
/** The longest line held (in UTF-16 units, 64 Mi): a longer one is skipped with an error rather than grow memory without bound. */
const MAX_LINE_CHARS = 64 * 1024 * 1024;

export default defineInput<StdinConfig>({
  name: 'stdin',
  summary: 'Reads messages from standard input: one per line, or the whole input as one message. The pipeline stops at end of input.',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      codec: {
        type: 'string',
        enum: ['lines', 'all-bytes'],
        default: 'lines',
        description:
          'lines: a message per line (empty lines skipped; a read takes every complete line already received, up to 1024, as one batch); all-bytes: one message of everything. (Redpanda Connect\'s older field; scanner, when set, wins.)',
      },
      scanner: {
        type: 'object',
        additionalProperties: false,
        minProperties: 1,
        maxProperties: 1,
        description: 'How the input is cut into messages, as Redpanda Connect\'s scanners: lines (default) or to_the_end.',
        properties: {
          lines: {
            type: 'object',
            additionalProperties: false,
            properties: {
              custom_delimiter: { type: 'string', default: '', description: 'Cut at this text instead of a newline.' },
              max_buffer_size: {
                type: 'integer',
                minimum: 1,
                default: 65536,
                description: 'Accepted for Redpanda Connect configs; sluice holds lines up to 64 Mi characters (a longer line is skipped with an error; reading pauses past 8 Mi characters unread).',
              },
            },
          },
          to_the_end: { type: 'object', additionalProperties: false, properties: {}, description: 'The whole input as one message.' },
        },
      },
      auto_replay_nacks: {
        type: 'boolean',
        default: true,
        description: 'Accepted for Redpanda Connect configs: sluice always sends failed messages again (false is logged as not supported).',
      },
    },
  },
  example: {},
  create({ codec, scanner, auto_replay_nacks }, { logger }) {
    if (!auto_replay_nacks) logger.warn('auto_replay_nacks: false is not supported: failed messages are sent again; wrap the output in drop_on or reject_errored to drop them.');
    if (scanner?.to_the_end || (!scanner && codec === 'all-bytes')) return allBytes(process.stdin);
    return lines(process.stdin, scanner?.lines?.custom_delimiter || '\n', logger);
  },
});

function allBytes(stream: Readable): Input {
  let done = false;
  return {
    async connect() {},
    async read(signal): Promise<ReadResult | null> {
      if (done || signal.aborted) return null;
      done = true;
      return { batch: [Message.fromBytes(await text(stream))], ack: () => {} };
    },
    async close() {
      done = true;
    },
  };
}

/**
 * One message per line. Lines are cut from the chunks as they arrive (a UTF-8 sequence split
 * between chunks is kept whole), in time linear in the input however long a line is: a line still
 * incomplete is held as its pieces and only new text is searched. A read takes every complete line
 * already there: a batch of many messages costs the engine one read, not one per line. Reading
 * pauses while too much is held unread, so a fast producer cannot grow memory; a line longer than
 * `maxLineChars` (it could not be paused: it is not complete) is skipped to its end, with an error.
 */
export function lines(stream: Readable, delimiter: string, logger: Logger, maxLineChars = MAX_LINE_CHARS): Input {
  const decoder = new StringDecoder('utf8');
  const ready: string[] = [];
  let held = 0;
  // The line being received: its pieces (joined once it is complete) and their length.
  let pieces: string[] = [];
  let pending = 0;
  let lineNumber = 0;
  let overlong = false;
  let ended = false;
  let closed = false;
  let wake: (() => void) | undefined;
  let listening = false;

  const complete = (last: string) => {
    lineNumber++;
    const line = pieces.length === 0 ? last : pieces.join('') + last;
    pieces = [];
    pending = 0;
    if (overlong || line.length > maxLineChars) {
      overlong = false;
      logger.error(`stdin: line ${lineNumber} is longer than ${maxLineChars} characters and was skipped; the lines after it are read on.`);
      return;
    }
    const text = delimiter === '\n' && line.endsWith('\r') ? line.slice(0, -1) : line;
    if (text === '') return;
    ready.push(text);
    held += text.length;
  };
  const hold = (piece: string) => {
    if (piece === '') return;
    pieces.push(piece);
    pending += piece.length;
    // Up to delimiter.length - 1 of the characters held may be a delimiter's start, not the line's.
    if (pending > maxLineChars + delimiter.length - 1) overlong = true;
    // Of a line being skipped, only where a delimiter may start is kept.
    if (overlong) {
      const tail = delimiter.length > 1 ? pieces.join('').slice(1 - delimiter.length) : '';
      pieces = tail === '' ? [] : [tail];
      pending = tail.length;
    }
  };
  const cut = (fresh: string) => {
    // A delimiter of several characters may straddle two chunks: its start is among the last
    // delimiter.length - 1 characters held, which are searched again with the new text.
    let carried = '';
    while (pieces.length > 0 && carried.length < delimiter.length - 1) {
      const piece = pieces.pop()!;
      pending -= piece.length;
      carried = piece + carried;
    }
    const keep = carried.length - (delimiter.length - 1);
    if (keep > 0) {
      hold(carried.slice(0, keep));
      carried = carried.slice(keep);
    }
    const text = carried + fresh;
    let start = 0;
    for (let end = text.indexOf(delimiter); end !== -1; end = text.indexOf(delimiter, start)) {
      complete(text.slice(start, end));
      start = end + delimiter.length;
    }
    hold(text.slice(start));
  };
  const onData = (chunk: Buffer) => {
    cut(decoder.write(chunk));
    if (held > HIGH_WATER_CHARS) stream.pause();
    wake?.();
  };
  const onEnd = () => {
    cut(decoder.end());
    if (pieces.length > 0 || overlong) complete('');
    ended = true;
    wake?.();
  };
  const listen = () => {
    if (listening) return;
    listening = true;
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onEnd);
  };

  return {
    async connect() {},
    async read(signal): Promise<ReadResult | null> {
      listen();
      while (ready.length === 0) {
        if (ended || closed || signal.aborted) return null;
        await new Promise<void>((resolve) => {
          const done = () => {
            wake = undefined;
            signal.removeEventListener('abort', done);
            resolve();
          };
          wake = done;
          signal.addEventListener('abort', done, { once: true });
        });
      }
      const taken = ready.splice(0, MAX_LINES_PER_READ);
      const batch = new Array<Message>(taken.length);
      for (let i = 0; i < taken.length; i++) {
        held -= taken[i]!.length;
        batch[i] = Message.fromBytes(taken[i]!);
      }
      if (stream.isPaused() && !ended && held <= HIGH_WATER_CHARS / 2) stream.resume();
      return { batch, ack: () => {} };
    },
    async close() {
      closed = true;
      stream.off('data', onData);
      stream.pause();
      wake?.();
    },
  };
}
