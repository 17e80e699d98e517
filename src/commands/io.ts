// What a command reads and writes, passed in so tests can run a command in-process and read
// what it printed. The CLI uses the process's own streams.

export interface Writable {
  write(text: string): unknown;
}

export interface CommandIO {
  readonly stdin: NodeJS.ReadableStream & { readonly isTTY?: boolean };
  /** Results: test reports, mapped documents. */
  readonly stdout: Writable;
  /** Problems and progress notes. */
  readonly stderr: Writable;
  /** Ends long-running modes (`map --watch`); the CLI aborts it on SIGINT/SIGTERM. */
  readonly signal?: AbortSignal;
}

export function processIO(): CommandIO {
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };
}
