#!/usr/bin/env node
// The compiled mapping's own cost: CPU per event of evaluateSync() on the issue 13 benchmark
// mappings, beside the JSONata interpreter and the mapping written by hand in JavaScript, in one
// process (rounds alternate, so all see the same machine load).
//
//   npm run build && node bench/compiled.mjs [--mapping runai|realistic|all] [--events 20000] [--rounds 7] [--also-root DIR] [--interpreter-events 2000]
//
// Each event is a bench/lib/workload.mjs document (its own id, name and metrics) with the run_ai
// input's metadata. Every contestant's output is checked against the interpreter's first.
// --also-root: the compiled mapping of another built checkout as a further contestant (before/after).
// --only compiled: time the compiled mapping alone (for `node --cpu-prof`).
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BENCH_DIR, ROOT, options } from './lib/common.mjs';
import { realisticEvent, runaiEvent } from './lib/mappings.mjs';
import { METADATA, workload } from './lib/workload.mjs';

const opts = options({ mapping: 'all', events: 20_000, rounds: 7, 'also-root': '', 'interpreter-events': 2_000, only: '' });

const MAPPINGS = {
  runai: { file: join(ROOT, 'mappings', 'runai-workload.jsonata'), twin: (doc) => runaiEvent(doc, METADATA) },
  realistic: { file: join(BENCH_DIR, 'mappings', 'realistic.jsonata'), twin: (doc) => realisticEvent(doc) },
};

async function load(root) {
  const url = (path) => pathToFileURL(join(resolve(root), 'dist', path)).href;
  const { compileExpression } = await import(url('mapping/environment.js'));
  const { Message } = await import(url('engine/message.js'));
  return { compileExpression, Message };
}

function documents(count) {
  return Array.from({ length: count }, (_, i) => {
    const doc = workload(`497f6eca-6276-4993-bfeb-${String(i).padStart(12, '0')}`);
    doc.name = `Job-${i}`;
    doc.metrics.values.GPU_UTILIZATION = i % 101;
    doc.metrics.values.CPU_USAGE_CORES = (i % 960) / 10;
    doc.allocatedResources.gpu = (i % 7) * 0.75;
    return doc;
  });
}

const cpuMicros = () => {
  const { user, system } = process.cpuUsage();
  return user + system;
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const here = await load(ROOT);
const other = opts['also-root'] ? await load(opts['also-root']) : undefined;
const names = opts.mapping === 'all' ? Object.keys(MAPPINGS) : [opts.mapping];
console.log(`load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; Node ${process.version}; ${opts.events} events, ${opts.rounds} rounds (interpreter: ${opts['interpreter-events']} events)`);

for (const name of names) {
  const { file, twin } = MAPPINGS[name];
  const source = readFileSync(file, 'utf8');
  const docs = documents(opts.events);
  const contexts = (Message) => docs.map((doc, index) => ({ message: Message.fromJSON(doc, METADATA), batch: [], index }));
  const compiled = here.compileExpression(source);
  if (!compiled.compiled) throw new Error(`${name}: not compiled (${compiled.interpretedBecause})`);
  const interpreted = here.compileExpression(source, { compile: false });
  const ctx = contexts(here.Message);
  const contestants = {
    compiled: { n: docs.length, run: () => { for (let i = 0; i < ctx.length; i++) compiled.evaluateSync(ctx[i]); } },
  };
  if (other !== undefined) {
    const before = other.compileExpression(source);
    const otherCtx = contexts(other.Message);
    contestants['compiled, --also-root'] = { n: docs.length, run: () => { for (let i = 0; i < otherCtx.length; i++) before.evaluateSync(otherCtx[i]); } };
  }
  const interpreterEvents = Math.min(opts['interpreter-events'], docs.length);
  contestants.interpreter = { n: interpreterEvents, run: async () => { for (let i = 0; i < interpreterEvents; i++) await interpreted.evaluate(ctx[i]); } };
  contestants['JS twin'] = { n: docs.length, run: () => { for (let i = 0; i < docs.length; i++) twin(docs[i]); } };
  if (opts.only) for (const key of Object.keys(contestants)) if (key !== opts.only) delete contestants[key];

  // Identical results first: the compiled mapping (each tree) and the twin against the interpreter.
  for (let i = 0; i < docs.length; i += Math.max(1, Math.floor(docs.length / 500))) {
    const want = JSON.stringify(await interpreted.evaluate(ctx[i]));
    const got = JSON.stringify(compiled.evaluateSync(ctx[i]));
    if (got !== want) throw new Error(`${name}: compiled differs from the interpreter on event ${i}:\n${got}\n${want}`);
    if (JSON.stringify(twin(docs[i])) !== want) throw new Error(`${name}: the JS twin differs from the interpreter on event ${i}`);
  }

  const times = Object.fromEntries(Object.keys(contestants).map((key) => [key, []]));
  for (let round = -1; round < opts.rounds; round++) {
    for (const [key, { n, run }] of Object.entries(contestants)) {
      const started = cpuMicros();
      await run();
      if (round >= 0) times[key].push((cpuMicros() - started) / n);
    }
  }
  console.log(`\n${name} (${file.replace(`${ROOT}/`, '')}): CPU µs per event`);
  console.log('| contestant | best | median | vs JS twin (best) |\n|---|---:|---:|---:|');
  const twinBest = times['JS twin'] ? Math.min(...times['JS twin']) : NaN;
  for (const [key, list] of Object.entries(times)) {
    const best = Math.min(...list);
    console.log(`| ${key} | ${best.toFixed(2)} | ${median(list).toFixed(2)} | ${(best / twinBest).toFixed(2)}× |`);
  }
}
