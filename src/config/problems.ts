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
  const where = `${p.file}(${p.line},${p.column})`;
  const prefix = p.severity === 'warning' ? 'warning: ' : p.severity === 'note' ? 'note: ' : '';
  return p.path === '' ? `${where} ${prefix}${p.message}` : `${where} ${p.path}: ${prefix}${p.message}`;
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
