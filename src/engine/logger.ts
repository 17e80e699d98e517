import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Level, type Logger } from 'pino';
import type pinoPretty from 'pino-pretty';
import type { Secrets } from './secrets.js';

export interface LoggerConfig {
  level: string;
  format: 'logfmt' | 'json';
  add_timestamp: boolean;
  static_fields: Record<string, string>;
  /** Keys of the level, timestamp and message (Redpanda Connect's level_name, timestamp_name, message_name). */
  level_name?: string;
  timestamp_name?: string;
  message_name?: string;
  /** Write to this file instead of stderr. */
  file?: { path: string };
}

const LEVELS: Record<string, Level | 'silent'> = {
  OFF: 'silent',
  NONE: 'silent',
  FATAL: 'fatal',
  ERROR: 'error',
  WARN: 'warn',
  INFO: 'info',
  DEBUG: 'debug',
  TRACE: 'trace',
  ALL: 'trace',
};

/** pino's level name for a Redpanda Connect level (`INFO`, `debug`, `ALL`...). Throws on an unknown one. */
export function pinoLevel(level: string): Level | 'silent' {
  const mapped = LEVELS[level.toUpperCase()];
  if (!mapped) throw new Error(`unknown log level ${JSON.stringify(level)} (expected one of ${Object.keys(LEVELS).join(', ')})`);
  return mapped;
}

/**
 * pino-pretty, loaded only for a terminal: a process logging to a pipe or a file (a service, a
 * worker thread, CI) does not pay for loading it.
 */
function prettyStream(): DestinationStream {
  const pretty = createRequire(import.meta.url)('pino-pretty') as typeof pinoPretty;
  return pretty({ destination: 2, sync: true, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' });
}

/**
 * The root logger of one sluice process. Logs go to stderr (stdout carries data when the output
 * is `stdout`), as logfmt or JSON, or prettified when stderr is a terminal. Every line passes
 * through `secrets.scrub` before it is written, so no configured or learned secret is ever logged.
 */
export function createLogger(config: LoggerConfig, secrets: Secrets, destination?: DestinationStream): Logger {
  const toFile = destination === undefined && config.file !== undefined && config.file.path !== '';
  const pretty_ = destination === undefined && !toFile && process.stderr.isTTY;
  const sink: DestinationStream =
    destination ??
    (toFile
      ? pino.destination({ dest: config.file!.path, sync: true, append: true, mkdir: true })
      : pretty_
        ? prettyStream()
        : pino.destination({ fd: 2, sync: true }));
  const keys = { level: config.level_name ?? 'level', time: config.timestamp_name ?? 'time', msg: config.message_name ?? 'msg' };
  const unique = staticFieldsWin(config.static_fields);
  return pino(
    {
      level: pinoLevel(config.level),
      base: config.static_fields,
      messageKey: keys.msg,
      timestamp: config.add_timestamp ? () => `,${JSON.stringify(keys.time)}:"${new Date().toISOString()}"` : false,
      formatters: { level: (label) => ({ [keys.level]: label }) },
      hooks: { streamWrite: (line) => secrets.scrub(unique(line)) },
    },
    config.format === 'logfmt' && !pretty_ ? logfmt(sink, keys) : sink,
  );
}

/**
 * A static field (logger.static_fields) whose key sluice also logs (`version`, `path`...) would
 * appear twice in a JSON line, which many log pipelines reject: the static value wins, once.
 */
function staticFieldsWin(fields: Record<string, string>): (line: string) => string {
  const entries = Object.entries(fields).map(([key, value]) => ({ key, value, token: `${JSON.stringify(key)}:` }));
  if (entries.length === 0) return (line) => line;
  return (line) => {
    const twice = entries.filter((e) => {
      const first = line.indexOf(e.token);
      return first !== -1 && line.indexOf(e.token, first + e.token.length) !== -1;
    });
    if (twice.length === 0) return line;
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return line;
    }
    for (const { key, value } of twice) record[key] = value;
    return `${JSON.stringify(record)}\n`;
  };
}

/** Re-encodes pino's JSON lines as logfmt (`time=... level=info msg="..." key=value`). */
function logfmt(sink: DestinationStream, keys: { level: string; time: string; msg: string }): DestinationStream {
  return {
    write(line: string) {
      const record = JSON.parse(line) as Record<string, unknown>;
      const { [keys.time]: time, [keys.level]: level, [keys.msg]: msg, ...rest } = record;
      const fields: [string, unknown][] = [];
      if (time !== undefined) fields.push([keys.time, time]);
      fields.push([keys.level, level], [keys.msg, msg ?? '']);
      fields.push(...Object.entries(rest));
      sink.write(fields.map(([k, v]) => `${k}=${logfmtValue(v)}`).join(' ') + '\n');
    },
  };
}

function logfmtValue(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text === '' || /[\s"=\\]/.test(text) ? JSON.stringify(text) : text;
}
