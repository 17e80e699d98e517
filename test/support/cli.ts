import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

/** A running `sluice` process with its output collected as it arrives. */
export interface CliProcess {
  readonly child: ChildProcessWithoutNullStreams;
  stdout: string;
  stderr: string;
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;
  /** Resolves once stderr matches `pattern`, with the match. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
}

export function startCli(args: string[], env: Record<string, string> = {}): CliProcess {
  return track(spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } }));
}

/** A CliProcess around a child started otherwise (e.g. `sluice` under `bash -c 'ulimit ...; exec ...'`). */
export function track(child: ChildProcessWithoutNullStreams): CliProcess {
  const proc: CliProcess = {
    child,
    stdout: '',
    stderr: '',
    exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
    async waitForLog(pattern, timeoutMs = 10_000) {
      const started = Date.now();
      for (;;) {
        const match = proc.stderr.match(pattern);
        if (match) return match;
        if (Date.now() - started > timeoutMs) throw new Error(`no log line matching ${pattern} in:\n${proc.stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
  };
  child.stdout.on('data', (chunk: Buffer) => (proc.stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (proc.stderr += chunk.toString()));
  return proc;
}

/** Runs `sluice args...` to completion. */
export async function runCli(args: string[], env: Record<string, string> = {}, stdin?: string) {
  const proc = startCli(args, env);
  if (stdin !== undefined) proc.child.stdin.end(stdin);
  const code = await proc.exited;
  return { code, stdout: proc.stdout, stderr: proc.stderr };
}
