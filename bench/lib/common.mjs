// Shared by the benchmark scripts: where sluice is, spawning measured processes, medians, and the
// machine's description.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { cpus, freemem, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The sluice checkout to measure: this one, or $SLUICE_ROOT (e.g. a worktree of another commit). */
export const ROOT = resolve(process.env.SLUICE_ROOT ?? join(BENCH_DIR, '..'));
export const CLI = join(ROOT, 'dist', 'cli.js');
const MAXRSS = join(BENCH_DIR, 'lib', 'maxrss.mjs');

/** Parses `--name value` / `--flag` arguments against defaults (numbers stay numbers). */
export function options(defaults) {
  const out = { ...defaults };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in defaults)) throw new Error(`unknown option ${argv[i]}; options: ${Object.keys(defaults).join(', ')}`);
    if (typeof defaults[key] === 'boolean') out[key] = true;
    else out[key] = typeof defaults[key] === 'number' ? Number(argv[++i]) : argv[++i];
  }
  return out;
}

/**
 * Runs `node args...` to completion with its peak RSS and CPU time recorded. Resolves { code, ms,
 * maxRssMB, cpuMs, stderr, stdout }. `onSpawn(child)` sees the child as soon as it starts;
 * `stdinFile` is piped to its stdin.
 */
export async function runNode(args, { env = {}, nodeFlags = [], onSpawn, cwd = ROOT, timeoutMs = 30 * 60_000, stdinFile } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
  const rssFile = join(dir, 'maxrss');
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', MAXRSS, ...nodeFlags, ...args], {
    cwd,
    env: { ...process.env, ...env, BENCH_MAXRSS_FILE: rssFile },
    stdio: [stdinFile ? openSync(stdinFile, 'r') : 'ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  onSpawn?.(child);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code] = await once(child, 'exit');
  clearTimeout(timer);
  const ms = performance.now() - started;
  let usage = { maxRss: NaN, cpuMs: NaN };
  try {
    usage = JSON.parse(readFileSync(rssFile, 'utf8'));
  } catch {
    // The process died before writing it.
  }
  rmSync(dir, { recursive: true, force: true });
  return { code, ms, maxRssMB: usage.maxRss / 2 ** 20, cpuMs: usage.cpuMs, stdout, stderr };
}

export function median(values) {
  const sorted = [...values].filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The machine, as the README records it, plus the load average right now. */
export function machine() {
  return {
    nproc: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    memGB: +(totalmem() / 2 ** 30).toFixed(1),
    freeGB: +(freemem() / 2 ** 30).toFixed(1),
    node: process.version,
    load: loadavg().map((l) => +l.toFixed(2)),
  };
}

export function printMachine() {
  const m = machine();
  console.log(`machine: ${m.nproc} cpus (${m.cpu}), ${m.memGB} GB RAM, node ${m.node}, load average ${m.load.join(' ')}; sluice at ${ROOT}`);
}

export const fmt = (n, digits = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : 'n/a');
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
