#!/usr/bin/env node
// Pipeline throughput: sluice vs a hand-written Node loop doing the same work, against the same
// sink in another process, alternating runs so both see the same machine load.
//
//   node bench/pipeline.mjs [--scenario runai|trivial|both] [--rounds 5] [--events N] [--batch-size 100]
//                           [--sink http|openmeter] [--interpret] [--also-root DIR] [--profile DIR]
//
// runai:   generate (a Run:ai workload document) -> the shipped mapping -> batches of 100 as a JSON
//          array -> http_client (max_in_flight 4), vs lazy generator -> jsonata@2 with the same
//          mapping -> batches of 100 -> JSON.stringify -> undici Pool (4 in flight).
// trivial: the same with the identity mapping in sluice and no mapping at all in the loop, so the
//          ratio is the engine's overhead.
// Throughput is measured at the sink: events / (last request - first request), so process start
// and config loading are not counted (bench/startup.mjs measures those).
//
// --batch-size   generate's batch_size (the loop is unaffected).
// --sink         openmeter: `sluice sim openmeter` as the sink (runai only; rates are then over
//                each process's life, start included).
// --interpret    `compile: false` on the scenario's mapping, so sluice runs the interpreter the
//                loop runs (generate's expression and the metadata mapping stay compiled).
// --also-root    a third contestant: the built sluice checkout at DIR, for before/after in one run.
// --profile      a CPU profile of every run in DIR/<contestant>/ (summarise with bench/profile.mjs).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { BENCH_DIR, CLI, ROOT, fmt, median, options, printMachine, runNode } from './lib/common.mjs';
import { startSink } from './lib/sink.mjs';
import { workload } from './lib/workload.mjs';

const opts = options({ scenario: 'both', rounds: 5, events: 0, 'batch-size': 100, sink: 'http', profile: '', interpret: false, 'also-root': '' });

const SCENARIOS = {
  runai: {
    title: 'Run:ai mapping',
    events: 30_000,
    config: join(BENCH_DIR, 'pipeline-runai.yaml'),
    mapping: join(ROOT, 'mappings', 'runai-workload.jsonata'),
  },
  trivial: {
    title: 'trivial mapping (engine overhead)',
    events: 150_000,
    config: join(BENCH_DIR, 'pipeline-trivial.yaml'),
    mapping: 'none',
  },
};

async function startOpenMeterSim() {
  const child = spawn(process.execPath, [CLI, 'sim', 'openmeter', '--summary', '1h'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /at (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on('exit', () => reject(new Error('sim openmeter exited')));
  });
  return { url, close: () => child.kill() };
}

async function contestant(name, scenario, sink, events) {
  const common = { timeoutMs: 10 * 60_000, nodeFlags: opts.profile ? ['--cpu-prof', '--cpu-prof-dir', join(opts.profile, name)] : [] };
  await sink.reset?.();
  let run;
  if (name === 'hand-written') {
    run = await runNode([join(BENCH_DIR, 'lib', 'handwritten.mjs'), `${sink.url}/api/v1/events`, String(events), scenario.mapping], common);
  } else {
    const cli = name === 'sluice' ? CLI : join(opts['also-root'], 'dist', 'cli.js');
    run = await runNode([cli, 'run', scenario.config], {
      ...common,
      env: { BENCH_SINK_URL: sink.url, BENCH_EVENTS: String(events), BENCH_BATCH_SIZE: String(opts['batch-size']), BENCH_COMPILE: String(!opts.interpret) },
    });
  }
  if (run.code !== 0) throw new Error(`${name} exited with ${run.code}: ${run.stderr.slice(-2000)}`);
  if (!sink.stats) return { rate: (events / run.ms) * 1000, wallMs: run.ms, maxRssMB: run.maxRssMB, cpuUs: (run.cpuMs * 1000) / events, sinkCpu: NaN };
  const s = await sink.stats();
  if (s.events !== events) throw new Error(`${name}: the sink counted ${s.events} events, expected ${events}`);
  const ms = s.last - s.first;
  return { rate: (events / ms) * 1000, wallMs: run.ms, maxRssMB: run.maxRssMB, cpuUs: (run.cpuMs * 1000) / events, sinkCpu: s.cpuMs / ms };
}

async function measure(key) {
  const scenario = SCENARIOS[key];
  const events = opts.events || scenario.events;
  const sink = opts.sink === 'openmeter' ? await startOpenMeterSim() : await startSink();
  const names = ['hand-written', 'sluice', ...(opts['also-root'] ? ['sluice@also-root'] : [])];
  const results = Object.fromEntries(names.map((name) => [name, []]));
  try {
    // One unmeasured run each, to warm the page cache and the sink.
    for (const name of names) await contestant(name, scenario, sink, Math.min(events, 5000));
    for (let round = 0; round < opts.rounds; round++) {
      const order = round % 2 ? [...names].reverse() : names;
      for (const name of order) {
        const r = await contestant(name, scenario, sink, events);
        results[name].push(r);
        console.log(`  ${key} round ${round + 1} ${name.padEnd(16)} ${fmt(r.rate).padStart(8)} events/s (${fmt((events / r.wallMs) * 1000)} over the process's life)  CPU ${fmt(r.cpuUs, 1)} µs/event  peak RSS ${fmt(r.maxRssMB)} MB  sink CPU ${fmt(r.sinkCpu * 100)}%`);
      }
    }
  } finally {
    await sink.close();
  }
  const summary = (name) => ({
    rate: median(results[name].map((r) => r.rate)),
    maxRssMB: median(results[name].map((r) => r.maxRssMB)),
    min: Math.min(...results[name].map((r) => r.rate)),
    max: Math.max(...results[name].map((r) => r.rate)),
  });
  const base = summary('hand-written');
  const ours = summary('sluice');
  console.log(
    `${scenario.title}, ${fmt(events)} events, median of ${opts.rounds} (sink: ${opts.sink}, generate batch_size ${opts['batch-size']}, mapping ${opts.interpret ? 'interpreted' : 'compiled'}):\n` +
      `  hand-written loop  ${fmt(base.rate).padStart(8)} events/s (${fmt(base.min)}-${fmt(base.max)})  peak RSS ${fmt(base.maxRssMB)} MB\n` +
      `  sluice             ${fmt(ours.rate).padStart(8)} events/s (${fmt(ours.min)}-${fmt(ours.max)})  peak RSS ${fmt(ours.maxRssMB)} MB\n` +
      `  ratio sluice / hand-written: ${fmt(ours.rate / base.rate, 2)}`,
  );
  if (opts['also-root']) {
    const other = summary('sluice@also-root');
    console.log(
      `  sluice at ${opts['also-root']}: ${fmt(other.rate)} events/s (${fmt(other.min)}-${fmt(other.max)}), ratio to hand-written ${fmt(other.rate / base.rate, 2)}; ` +
        `sluice / it: ${fmt(ours.rate / other.rate, 2)}`,
    );
  }
  return { base, ours };
}

/** The document sluice's generate emits must be the hand-written generator's (ids aside). */
async function checkSameDocument() {
  const config = parse(readFileSync(SCENARIOS.runai.config, 'utf8'));
  const { compileExpression } = await import(`${ROOT}/dist/mapping/environment.js`);
  const generated = await compileExpression(config.input.generate.mapping).evaluate(undefined, undefined);
  const strip = (doc) => JSON.stringify({ ...doc, id: undefined });
  if (strip(generated) !== strip(workload())) throw new Error(`${SCENARIOS.runai.config}: generate's document differs from bench/lib/workload.mjs`);
}

printMachine();
await checkSameDocument();
for (const key of opts.scenario === 'both' ? ['runai', 'trivial'] : [opts.scenario]) await measure(key);
