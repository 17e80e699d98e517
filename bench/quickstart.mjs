#!/usr/bin/env node
// OpenMeter's quickstart collector (examples/openmeter-quickstart, `sluice streams`) under
// concurrent clients, the shipped JSONata input stream beside OpenMeter's own Bloblang one
// (test/fixtures/openmeter/quickstart_streams_input.yaml) in the same run, alternating.
//
//   node bench/quickstart.mjs [--events 2000] [--clients 50] [--rounds 3]
//
// Each run: a copy of the example (loopback port 0, buffer in a temporary directory), the
// OpenMeter simulator upstream (BATCH_SIZE 100, BATCH_PERIOD 200ms), `--events` single-event POSTs
// from `--clients` concurrent clients. Reports events/s accepted (every answer 204), request
// latency p50/p99, the time until every event is at OpenMeter, and that each arrived once.
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, ROOT, median, options, printMachine } from './lib/common.mjs';

const opts = options({ events: 2000, clients: 50, rounds: 3 });
const { startOpenMeterSimulator } = await import(join(ROOT, 'dist/openmeter/sim.js'));
const BLOBLANG_INPUT = join(ROOT, 'test/fixtures/openmeter/quickstart_streams_input.yaml');

async function run(input) {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-quickstart-'));
  cpSync(join(ROOT, 'examples/openmeter-quickstart'), dir, { recursive: true });
  if (input) writeFileSync(join(dir, 'streams/input.yaml'), readFileSync(input, 'utf8'));
  const edit = (file, from, to) => writeFileSync(join(dir, file), readFileSync(join(dir, file), 'utf8').replace(from, to));
  edit('config.yaml', '0.0.0.0:4195', '127.0.0.1:0');
  edit('streams/input.yaml', '0.0.0.0:8889', '127.0.0.1:0');
  edit('streams/output.yaml', '/var/lib/collector/buffer.sqlite', join(dir, 'buffer.sqlite'));
  const sim = await startOpenMeterSimulator();
  const child = spawn(process.execPath, [CLI, 'streams', '-o', join(dir, 'config.yaml'), '-r', join(dir, 'resources/dedupe-cache.yaml'), join(dir, 'streams')], {
    env: { ...process.env, OPENMETER_URL: sim.url, BATCH_SIZE: '100', BATCH_PERIOD: '200ms' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  let url;
  while (!(url = stderr.match(/Receiving HTTP messages at (\S+)\./)?.[1])) await new Promise((r) => setTimeout(r, 20));
  const latencies = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: opts.clients }, async () => {
      while (next < opts.events) {
        const i = next++;
        const body = JSON.stringify({ specversion: '1.0', id: `e-${i}`, source: 'bench', type: 'api-calls', subject: `c-${i % 10}`, time: '2024-06-01T12:00:00Z', data: { n: i } });
        const sent = performance.now();
        const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/cloudevents+json' }, body });
        await res.arrayBuffer();
        if (res.status !== 204) throw new Error(`status ${res.status}`);
        latencies.push(performance.now() - sent);
      }
    }),
  );
  const acceptedS = (performance.now() - started) / 1000;
  while (sim.deliveries.length < opts.events) await new Promise((r) => setTimeout(r, 20));
  const deliveredS = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const once = new Set(sim.deliveries.map((e) => `${e.source}/${e.id}`)).size === opts.events && sim.deliveries.length === opts.events;
  child.kill('SIGTERM');
  await new Promise((r) => child.on('exit', r));
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
  return { rate: opts.events / acceptedS, p50: latencies[Math.floor(latencies.length * 0.5)], p99: latencies[Math.floor(latencies.length * 0.99)], deliveredS, once };
}

printMachine();
console.log(`${opts.events} events, ${opts.clients} clients, ${opts.rounds} rounds`);
const results = { 'JSONata (shipped example)': [], 'Bloblang (OpenMeter, unchanged)': [] };
for (let round = 0; round < opts.rounds; round++) {
  for (const [name, input] of [['JSONata (shipped example)', undefined], ['Bloblang (OpenMeter, unchanged)', BLOBLANG_INPUT]]) {
    const r = await run(input);
    results[name].push(r);
    console.log(`round ${round} ${name}: ${r.rate.toFixed(0)} events/s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, all at OpenMeter after ${r.deliveredS.toFixed(2)} s, each once: ${r.once}`);
  }
}
for (const [name, rs] of Object.entries(results)) {
  console.log(`median ${name}: ${median(rs.map((r) => r.rate)).toFixed(0)} events/s, p50 ${median(rs.map((r) => r.p50)).toFixed(1)} ms, p99 ${median(rs.map((r) => r.p99)).toFixed(1)} ms, each once in every run: ${rs.every((r) => r.once)}`);
}
