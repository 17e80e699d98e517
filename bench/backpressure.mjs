#!/usr/bin/env node
// Memory under back-pressure: generate produces 5k events/s (bench/pipeline-runai.yaml:
// interval 20ms x batch_size 100, the Run:ai mapping, batches of 100, http_client max_in_flight
// 4) into a sink that stops answering for 60 s, then resumes. Samples the sluice process's RSS
// throughout and counts unique event ids at the sink at the end.
//
//   node bench/backpressure.mjs [--stall 60] [--before 10] [--after 20] [--rate 5000] [--rounds 1]
//
// Expected: RSS flat during the stall (the engine stops reading when max_in_flight writes are
// pending, so the events held are bounded by the config, not by the stall's length), and every
// event delivered exactly once or more (duplicates are allowed by at-least-once; losses are not).
// The baseline is the same run's RSS before the stall.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DIR, CLI, fmt, median, options, printMachine, runNode, sleep } from './lib/common.mjs';
import { startSink } from './lib/sink.mjs';

const opts = options({ stall: 60, before: 10, after: 20, rate: 5000, rounds: 1 });
const BATCH = 100;

function rssMB(pid) {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
  } catch {
    return NaN;
  }
}

async function round() {
  const sink = await startSink({ trackIds: true });
  const events = opts.rate * (opts.before + opts.stall + opts.after);
  let child;
  const run = runNode([CLI, 'run', join(BENCH_DIR, 'pipeline-runai.yaml')], {
    env: { BENCH_SINK_URL: sink.url, BENCH_EVENTS: String(events), BENCH_BATCH_SIZE: String(BATCH), BENCH_INTERVAL: `${(BATCH / opts.rate) * 1000}ms` },
    onSpawn: (c) => (child = c),
  });
  const samples = { before: [], stall: [], after: [] };
  let phase = 'before';
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const rss = rssMB(child.pid);
      if (Number.isFinite(rss)) samples[phase].push(rss);
      await sleep(250);
    }
  })();
  const started = performance.now();
  await sleep(opts.before * 1000);
  const atStall = await sink.stall();
  phase = 'stall';
  console.log(`  stalled the sink after ${fmt(atStall.events)} events`);
  await sleep(opts.stall * 1000);
  const resumed = await sink.resume();
  phase = 'after';
  console.log(`  resumed the sink: ${resumed.held} request(s) held, ${resumed.live} still waiting for their answer; ${fmt(resumed.events)} events counted so far`);
  const result = await run;
  const elapsed = (performance.now() - started) / 1000;
  sampling = false;
  await sampler;
  const s = await sink.stats();
  await sink.close();
  if (result.code !== 0) throw new Error(`sluice exited with ${result.code}: ${result.stderr.slice(-2000)}`);
  const max = (list) => Math.max(...list);
  const r = {
    events,
    unique: s.unique,
    duplicates: s.duplicates,
    lost: events - s.unique,
    rssBefore: max(samples.before),
    rssStall: max(samples.stall),
    rssStallEnd: samples.stall.at(-1),
    rssAfter: max(samples.after),
    peak: result.maxRssMB,
    elapsed,
    errors: (result.stderr.match(/Failed to send/g) ?? []).length,
  };
  console.log(
    `  ${fmt(r.events)} events generated, ${fmt(r.unique)} unique at the sink (${r.lost} lost, ${fmt(r.duplicates)} duplicates), done after ${fmt(r.elapsed, 1)} s; ` +
      `RSS max before the stall ${fmt(r.rssBefore)} MB, during ${fmt(r.rssStall)} MB (at its end ${fmt(r.rssStallEnd)} MB), after ${fmt(r.rssAfter)} MB, peak ${fmt(r.peak)} MB; ` +
      `${r.errors} failed writes replayed`,
  );
  return r;
}

printMachine();
console.log(
  `back-pressure: ${opts.rate} events/s, sink stalled ${opts.stall} s after ${opts.before} s; bound on events held in sluice: ` +
    `(max_in_flight 4 + 1 open batch) x batching.count 100 + pipeline.threads x generate batch_size 100`,
);
const rounds = [];
for (let i = 0; i < opts.rounds; i++) rounds.push(await round());
console.log(
  `median of ${opts.rounds}: RSS before the stall ${fmt(median(rounds.map((r) => r.rssBefore)))} MB, during ${fmt(median(rounds.map((r) => r.rssStall)))} MB ` +
    `(ratio ${fmt(median(rounds.map((r) => r.rssStall / r.rssBefore)), 2)}), peak ${fmt(median(rounds.map((r) => r.peak)))} MB; ` +
    `lost ${rounds.reduce((n, r) => n + r.lost, 0)}, duplicates ${fmt(median(rounds.map((r) => r.duplicates)))}`,
);
