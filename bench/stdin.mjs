#!/usr/bin/env node
// Per-message speed of the engine: JSON lines on stdin -> a mapping -> batches of 100 as a JSON
// array -> HTTP POST, 4 in flight, to a sink in another process. sluice (stdin input, mapping
// processor(s), http_client with batching and archive) against the hand-written loop of
// bench/lib/handwritten-stdin.mjs, alternating runs so both see the same machine load.
//
//   node bench/stdin.mjs [--scenario identity|runai|realistic|all] [--rounds 3] [--events 60000] [--also-root DIR] [--profile DIR]
//
// --also-root: a third contestant, the built sluice checkout at DIR (before/after in one run).
// --profile:   a CPU profile of every run in DIR/<scenario>-<contestant>/ (summarise with bench/profile.mjs).
//
// identity:  `$` in sluice, no mapping in the loop: the engine's own cost.
// runai:     mappings/runai-workload.jsonata (compiled) with its metadata set by a first mapping,
//            against the same mapping written by hand in JavaScript (bench/lib/mappings.mjs).
// realistic: bench/mappings/realistic.jsonata, ~25 fields, against its JavaScript twin.
// Throughput is measured at the sink (events / (last request - first request)).
import { writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jsonata from 'jsonata';
import { readFileSync } from 'node:fs';
import { BENCH_DIR, CLI, ROOT, fmt, median, options, printMachine, runNode } from './lib/common.mjs';
import { realisticEvent, runaiEvent } from './lib/mappings.mjs';
import { startSink } from './lib/sink.mjs';
import { METADATA, workload } from './lib/workload.mjs';

const opts = options({ scenario: 'all', rounds: 3, events: 60_000, 'also-root': '', profile: '' });
const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-stdin-'));
const input = join(dir, 'workloads.jsonl');
writeFileSync(input, `${Array.from({ length: opts.events }, () => JSON.stringify(workload())).join('\n')}\n`);

const meta = `{ meta: { ${Object.entries(METADATA).map(([k, v]) => `${k}: '"${v}"'`).join(', ')} } }`;
const SCENARIOS = {
  identity: { processors: `[ { mapping: '$' } ]` },
  runai: { processors: `[ { mapping: ${meta} }, { mapping: { file: ${join(ROOT, 'mappings', 'runai-workload.jsonata')} } } ]`, check: (doc) => runaiEvent(doc, METADATA), file: join(ROOT, 'mappings', 'runai-workload.jsonata') },
  realistic: { processors: `[ { mapping: { file: ${join(BENCH_DIR, 'mappings', 'realistic.jsonata')} } } ]`, check: realisticEvent, file: join(BENCH_DIR, 'mappings', 'realistic.jsonata') },
};

/** The hand-written twin must give what the JSONata mapping gives, or the comparison means nothing. */
async function checkTwin(name) {
  const scenario = SCENARIOS[name];
  if (!scenario.check) return;
  const doc = workload('0b3c6e9a-1111-4222-8333-944455556666');
  const expression = jsonata(readFileSync(scenario.file, 'utf8'));
  const { uuidV5, parseDuration } = await import('./lib/mappings.mjs');
  expression.registerFunction('meta', (key) => METADATA[key] ?? null, '<s:s>');
  expression.registerFunction('uuid_v5', (n) => uuidV5(n), '<ss?:s>');
  expression.registerFunction('parse_duration', parseDuration, '<s:n>');
  const want = JSON.stringify(await expression.evaluate(doc));
  const got = JSON.stringify(scenario.check(doc));
  if (want !== got) throw new Error(`${name}: the hand-written mapping differs from the JSONata one:\n${want}\n${got}`);
}

function config(sinkUrl, processors) {
  const file = join(dir, 'pipeline.yaml');
  writeFileSync(
    file,
    `http: { enabled: false }
logger: { level: warn }
input: { stdin: {} }
pipeline: { processors: ${processors} }
output:
  http_client:
    url: ${sinkUrl}/api/v1/events
    headers: { Content-Type: application/json }
    max_in_flight: 4
    batching: { count: 100, period: 1s, processors: [ { archive: { format: json_array } } ] }
`,
  );
  return file;
}

async function run(name, contestant, sink) {
  await sink.reset();
  const cli = contestant === 'sluice' ? CLI : join(opts['also-root'], 'dist', 'cli.js');
  const args = contestant !== 'hand-written' ? [cli, 'run', config(sink.url, SCENARIOS[name].processors)] : [join(BENCH_DIR, 'lib', 'handwritten-stdin.mjs'), `${sink.url}/api/v1/events`, name];
  const nodeFlags = opts.profile ? ['--cpu-prof', '--cpu-prof-interval', '100', '--cpu-prof-dir', join(opts.profile, `${name}-${contestant}`)] : [];
  const result = await runNode(args, { stdinFile: input, nodeFlags });
  if (result.code !== 0) throw new Error(`${contestant} exited with ${result.code}: ${result.stderr.slice(-2000)}`);
  const stats = await sink.stats();
  if (stats.events !== opts.events) throw new Error(`${contestant}: the sink counted ${stats.events} events, expected ${opts.events}`);
  return { rate: (opts.events / (stats.last - stats.first)) * 1000, cpuUs: (result.cpuMs * 1000) / opts.events, maxRssMB: result.maxRssMB };
}

printMachine();
const sink = await startSink();
try {
  const names = opts.scenario === 'all' ? Object.keys(SCENARIOS) : [opts.scenario];
  for (const name of names) {
    await checkTwin(name);
    const contestants = ['hand-written', 'sluice', ...(opts['also-root'] ? ['also-root'] : [])];
    const results = Object.fromEntries(contestants.map((c) => [c, []]));
    for (let round = 0; round < opts.rounds; round++) {
      for (const contestant of round % 2 === 0 ? contestants : [...contestants].reverse()) results[contestant].push(await run(name, contestant, sink));
    }
    const rate = (c) => median(results[c].map((r) => r.rate));
    const cpu = (c) => median(results[c].map((r) => r.cpuUs));
    console.log(
      `${name}: sluice ${fmt(rate('sluice'))} events/s (${fmt(cpu('sluice'), 1)} µs CPU/event), hand-written ${fmt(rate('hand-written'))} events/s (${fmt(cpu('hand-written'), 1)} µs CPU/event): ` +
        `${fmt(rate('sluice') / rate('hand-written'), 2)}x by throughput, ${fmt(cpu('hand-written') / cpu('sluice'), 2)}x by CPU (median of ${opts.rounds})`,
    );
    if (opts['also-root']) {
      console.log(
        `  sluice at ${opts['also-root']}: ${fmt(rate('also-root'))} events/s (${fmt(cpu('also-root'), 1)} µs CPU/event): ${fmt(rate('also-root') / rate('hand-written'), 2)}x by throughput, ${fmt(cpu('hand-written') / cpu('also-root'), 2)}x by CPU`,
      );
    }
  }
} finally {
  await sink.close();
}
