import { pino, type DestinationStream, type Level, type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { Secrets } from './secrets.js';

export interface LoggerConfig {
  level: string;
  format: 'logfmt' | 'json';
  add_timestamp: boolean;
  static_fields: Record<string, string>;
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
 * The root logger of one sluice process. Logs go to stderr (stdout carries data when the output
 * is `stdout`), as logfmt or JSON, or prettified when stderr is a terminal. Every line passes
 * through `secrets.scrub` before it is written, so no configured or learned secret is ever logged.
 */
export function createLogger(config: LoggerConfig, secrets: Secrets, destination?: DestinationStream): Logger {
  const pretty_ = destination === undefined && process.stderr.isTTY;
  const sink: DestinationStream =
    destination ??
    (pretty_
      ? pretty({ destination: 2, sync: true, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' })
      : pino.destination({ fd: 2, sync: true }));
  return pino(
    {
      level: pinoLevel(config.level),
      base: config.static_fields,
      timestamp: config.add_timestamp ? pino.stdTimeFunctions.isoTime : false,
      formatters: { level: (label) => ({ level: label }) },
      hooks: { streamWrite: (line) => secrets.scrub(line) },
    },
    config.format === 'logfmt' && !pretty_ ? logfmt(sink) : sink,
  );
}

/** Re-encodes pino's JSON lines as logfmt (`time=... level=info msg="..." key=value`). */
function logfmt(sink: DestinationStream): DestinationStream {
  return {
    write(line: string) {
      const record = JSON.parse(line) as Record<string, unknown>;
      const { time, level, msg, ...rest } = record;
      const fields: [string, unknown][] = [];
      if (time !== undefined) fields.push(['time', time]);
      fields.push(['level', level], ['msg', msg ?? '']);
      fields.push(...Object.entries(rest));
      sink.write(fields.map(([k, v]) => `${k}=${logfmtValue(v)}`).join(' ') + '\n');
    },
  };
}

function logfmtValue(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text === '' || /[\s"=\\]/.test(text) ? JSON.stringify(text) : text;
}
