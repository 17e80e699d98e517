/** A location in the config tree: `['pipeline', 'processors', 0, 'mapping']`. */
export type ConfigPath = readonly (string | number)[];

/** One thing wrong with a config file, pointing at the line to fix. */
export interface Problem {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** `pipeline.processors[0].mapping`, or '' for the file as a whole. */
  readonly path: string;
  readonly message: string;
  /** Warnings are printed but do not fail lint or stop `run`; notes are information `lint` prints. */
  readonly severity: 'error' | 'warning' | 'note';
}

/** `file(line,col) path: message`, the one format every config problem is shown in. */
export function formatProblem(p: Problem): string {
  const where = `${printable(p.file)}(${p.line},${p.column})`;
  const prefix = p.severity === 'warning' ? 'warning: ' : p.severity === 'note' ? 'note: ' : '';
  const message = printable(p.message);
  return p.path === '' ? `${where} ${prefix}${message}` : `${where} ${printable(p.path)}: ${prefix}${message}`;
}

/**
 * `text` with control characters (C0 but newline and tab, DEL, C1) and U+FFFD written as `\xNN`
 * or `\u{...}`: a binary file's bytes quoted in an error cannot move the cursor or recolour a
 * terminal.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\ufffd]/g, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  });
}

/** `pipeline.processors[0].mapping` from `['pipeline', 'processors', 0, 'mapping']`. */
export function formatPath(path: ConfigPath): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? segment : `.${segment}`;
  }
  return out;
}

/** Thrown when a config cannot be run; carries every problem found, not just the first. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly Problem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
  }
}
