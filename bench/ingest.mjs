#!/usr/bin/env node
// Ingest proxy throughput: `clients` concurrent HTTP clients post `events` single CloudEvents in
// total (application/cloudevents+json) to sluice running examples/openmeter-ingest.yaml (OpenMeter's
// http-server preset: validation, a durable sqlite buffer, batches to OpenMeter), and, in the same
// round, to a hand-written Node proxy doing the same validation + durable buffering
// (bench/lib/handwritten-ingest.mjs). OpenMeter is the simulator, in this process.
//
//   node bench/ingest.mjs [--events 100000] [--clients 200] [--rounds 1]
//   node bench/ingest.mjs --backpressure [--limit 1048576] [--timeout 1s] [--sinkLatency 200]
//
// Reports per target: accepted events/s over the posting period, p50/p99 request latency, the
// statuses, the peak RSS of the proxy, and, once everything is forwarded, the events OpenMeter
// stored (and any it got twice). With --backpressure: sluice with buffer.memory (a small limit)
// in front of a slow OpenMeter: requests wait up to the input's timeout, then get 503; RSS stays bounded.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { BENCH_DIR, CLI, fmt, median, options, printMachine, ROOT, runNode, sleep } from './lib/common.mjs';
// The harness's own build, not SLUICE_ROOT's (an older tree measured side by side may predate it).
import { freePort } from '../dist/free_port.js';

const opts = options({ events: 100000, clients: 200, rounds: 1, backpressure: false, limit: 1048576, timeout: '1s', sinkLatency: 200, seconds: 20 });
const { startOpenMeterSimulator } = await import(join(ROOT, 'dist', 'openmeter', 'sim.js'));

function rssMB(pid) {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
  } catch {
    return NaN;
  }
}

async function waitListening(url) {
  for (let i = 0; i < 400; i++) {
    try {
      const r = await request(url, { method: 'GET' });
      await r.body.dump();
      return;
    } catch {
      await sleep(50);
    }
  }
  throw new Error(`${url} never answered`);
}

let serial = 0;
const run = Date.now().toString(36);
const eventBody = () => {
  const n = ++serial;
  return JSON.stringify({ specversion: '1.0', id: `${run}-${n}`, source: 'bench', type: 'request', subject: `customer-${n % 100}`, time: new Date().toISOString(), data: { tokens: n % 1000, model: 'gpt' } });
};

/** `clients` loops posting until `total` requests were sent (or `until` passes); latencies in ms. */
async function load(url, total, clients, until = Infinity) {
  const agent = new Agent({ connections: clients, pipelining: 1, keepAliveTimeout: 30_000 });
  const latencies = [];
  const statuses = {};
  let sent = 0;
  const started = performance.now();
  const client = async () => {
    while (sent < total && performance.now() < until) {
      sent++;
      const t = performance.now();
      let status;
      try {
        const r = await request(url, { method: 'POST', dispatcher: agent, body: eventBody(), headers: { 'content-type': 'application/cloudevents+json' } });
        await r.body.dump();
        status = r.statusCode;
      } catch (err) {
        status = err.code ?? 'error';
      }
      latencies.push(performance.now() - t);
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  const seconds = (performance.now() - started) / 1000;
  await agent.close();
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
  return { seconds, statuses, p50: pct(50), p99: pct(99), max: latencies[latencies.length - 1], accepted: statuses[204] ?? 0 };
}

async function measure(name, start) {
  const sim = await startOpenMeterSimulator({ dedupe: true });
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sluice-ingest-bench-'));
  let child;
  const proc = start({ port, sim, dir, onSpawn: (c) => (child = c) });
  const url = `http://127.0.0.1:${port}/api/v1/events`;
  await waitListening(url);
  let peak = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, rssMB(child.pid) || 0);
      await sleep(100);
    }
  })();
  const result = await load(url, opts.events, opts.clients);
  const drainStarted = performance.now();
  while (sim.events.length < result.accepted && performance.now() - drainStarted < 120_000) await sleep(50);
  const drained = (performance.now() - drainStarted) / 1000;
  sampling = false;
  await sampler;
  child.kill('SIGTERM');
  const exit = await proc;
  await sim.close();
  const delivered = sim.events.length;
  const duplicates = sim.deliveries.length - delivered;
  const row = { name, eps: result.accepted / result.seconds, ...result, drained, delivered, duplicates, peakMB: Math.max(peak, exit.maxRssMB || 0) };
  console.log(
    `  ${name}: ${fmt(row.eps)} events/s accepted (${fmt(result.accepted)} in ${fmt(result.seconds, 1)} s), p50 ${fmt(result.p50, 1)} ms, p99 ${fmt(result.p99, 1)} ms, statuses ${JSON.stringify(result.statuses)}; forwarded all ${drained.toFixed(1)} s later: ${fmt(delivered)} stored, ${duplicates} duplicates; peak RSS ${fmt(row.peakMB)} MB`,
  );
  return row;
}

const sluice = ({ port, sim, dir, onSpawn }) =>
  runNode(
    [CLI, 'run', join(ROOT, 'examples', 'openmeter-ingest.yaml'), '-s', `input.http_server.address=127.0.0.1:${port}`, '-s', 'http.address=127.0.0.1:0'],
    { env: { OPENMETER_URL: sim.url, BUFFER_PATH: join(dir, 'buffer.db'), LOG_LEVEL: 'WARN' }, onSpawn },
  );
const handwritten = ({ port, sim, dir, onSpawn }) => runNode([join(BENCH_DIR, 'lib', 'handwritten-ingest.mjs'), String(port), sim.url, join(dir, 'buffer.db')], { onSpawn });

async function throughput() {
  console.log(`ingest: ${fmt(opts.events)} events, ${opts.clients} concurrent clients, ${opts.rounds} round(s)`);
  const rows = { sluice: [], handwritten: [] };
  for (let r = 0; r < opts.rounds; r++) {
    rows.sluice.push(await measure('sluice', sluice));
    rows.handwritten.push(await measure('handwritten', handwritten));
  }
  const m = (list, key) => median(list.map((row) => row[key]));
  console.log('medians:');
  for (const [name, list] of Object.entries(rows)) {
    console.log(`  ${name}: ${fmt(m(list, 'eps'))} events/s, p50 ${fmt(m(list, 'p50'), 1)} ms, p99 ${fmt(m(list, 'p99'), 1)} ms, peak RSS ${fmt(m(list, 'peakMB'))} MB, duplicates ${m(list, 'duplicates')}`);
  }
  console.log(`  ratio sluice/handwritten: ${(m(rows.sluice, 'eps') / m(rows.handwritten, 'eps')).toFixed(2)}x events/s`);
}

/** sluice with a small memory buffer in front of a slow OpenMeter, loaded for `seconds`. */
async function backpressure() {
  const sim = await startOpenMeterSimulator({ latencyMs: opts.sinkLatency });
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sluice-ingest-bp-'));
  const config = join(dir, 'ingest-memory.yaml');
  writeFileSync(
    config,
    `
http: { address: 127.0.0.1:0 }
logger: { level: WARN }
input:
  http_server: { address: 127.0.0.1:${port}, path: /api/v1/events, timeout: ${opts.timeout}, sync_response: { status: '204' } }
  processors: [ { sync_response: {} } ]
buffer: { memory: { limit: ${opts.limit} } }
output:
  openmeter: { url: ${sim.url}, max_in_flight: 1, batching: { count: 100, period: 100ms } }
`,
  );
  console.log(`backpressure: buffer.memory.limit ${fmt(opts.limit)} bytes, http_server.timeout ${opts.timeout}, OpenMeter answering after ${opts.sinkLatency} ms (one request in flight, 100 events each), ${opts.clients} clients for ${opts.seconds} s`);
  let child;
  const proc = runNode([CLI, 'run', config], { onSpawn: (c) => (child = c) });
  const url = `http://127.0.0.1:${port}/api/v1/events`;
  await waitListening(url);
  const samples = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      samples.push(rssMB(child.pid));
      await sleep(250);
    }
  })();
  const result = await load(url, Infinity, opts.clients, performance.now() + opts.seconds * 1000);
  sampling = false;
  await sampler;
  child.kill('SIGTERM');
  const exit = await proc;
  await sim.close();
  const quarter = Math.floor(samples.length / 4);
  console.log(
    `  statuses ${JSON.stringify(result.statuses)}; latency p50 ${fmt(result.p50, 1)} ms, p99 ${fmt(result.p99, 1)} ms, max ${fmt(result.max, 1)} ms; RSS in the first quarter ${fmt(median(samples.slice(0, quarter)))} MB, last quarter ${fmt(median(samples.slice(-quarter)))} MB, peak ${fmt(Math.max(...samples.filter(Number.isFinite), exit.maxRssMB || 0))} MB; OpenMeter stored ${fmt(sim.events.length)} (accepted ${fmt(result.accepted)})`,
  );
}

printMachine();
if (opts.backpressure) await backpressure();
else await throughput();
