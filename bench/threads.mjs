#!/usr/bin/env node
// `pipeline.threads`: does running the processors on worker threads pay? JSON lines on stdin ->
// bench/mappings/realistic.jsonata -> drop, with 1 and with 2 threads, the mapping interpreted
// (compile: false: CPU-bound) and compiled, beside the hand-written loop running the same
// expression in the jsonata interpreter on one thread (bench/lib/handwritten-threads.mjs).
// Runs alternate so every contestant sees the same machine load. The output is `drop` so the
// measure is the processing, not a sink sharing the two cores.
//
//   node bench/threads.mjs [--rounds 3] [--events 40000]
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BENCH_DIR, CLI, fmt, median, options, printMachine, runNode } from './lib/common.mjs';
import { workload } from './lib/workload.mjs';

const opts = options({ rounds: 3, events: 40_000 });
const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-threads-'));
const input = join(dir, 'workloads.jsonl');
writeFileSync(input, `${Array.from({ length: opts.events }, () => JSON.stringify(workload())).join('\n')}\n`);
const MAPPING = join(BENCH_DIR, 'mappings', 'realistic.jsonata');

function config(threads, compile) {
  const file = join(dir, `threads-${threads}-${compile}.yaml`);
  writeFileSync(
    file,
    `http: { enabled: false }
logger: { level: warn }
input: { stdin: {} }
pipeline:
  threads: ${threads}
  processors: [ { mapping: { file: ${MAPPING}, compile: ${compile} } } ]
output: { drop: {} }
`,
  );
  return file;
}

const CONTESTANTS = {
  'hand-written, interpreter, 1 thread': [join(BENCH_DIR, 'lib', 'handwritten-threads.mjs'), MAPPING],
  'sluice, interpreter, threads: 1': [CLI, 'run', config(1, false)],
  'sluice, interpreter, threads: 2': [CLI, 'run', config(2, false)],
  'sluice, compiled, threads: 1': [CLI, 'run', config(1, true)],
  'sluice, compiled, threads: 2': [CLI, 'run', config(2, true)],
};

printMachine();
const rates = Object.fromEntries(Object.keys(CONTESTANTS).map((name) => [name, []]));
for (let round = 0; round < opts.rounds; round++) {
  const names = Object.keys(CONTESTANTS);
  for (const name of round % 2 === 0 ? names : names.reverse()) {
    const result = await runNode(CONTESTANTS[name], { stdinFile: input });
    if (result.code !== 0) throw new Error(`${name} exited with ${result.code}: ${result.stderr.slice(-2000)}`);
    rates[name].push((opts.events / result.ms) * 1000);
  }
}
const rate = (name) => median(rates[name]);
for (const name of Object.keys(CONTESTANTS)) console.log(`${name}: ${fmt(rate(name))} events/s (median of ${opts.rounds}, start-up included)`);
console.log(`interpreter: 2 threads / 1 thread = ${fmt(rate('sluice, interpreter, threads: 2') / rate('sluice, interpreter, threads: 1'), 2)}x`);
console.log(`compiled:    2 threads / 1 thread = ${fmt(rate('sluice, compiled, threads: 2') / rate('sluice, compiled, threads: 1'), 2)}x`);
