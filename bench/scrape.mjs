#!/usr/bin/env node
// Scrape scale: one run_ai scrape of 10,000 running workloads (12 metrics, so two metrics
// requests each) against `sluice sim runai` with 25 ms added to every answer, in another process.
//
//   node bench/scrape.mjs [--workloads 10000] [--latency 25ms] [--rounds 5] [--max-in-flight N] [--min-in-flight N]
//                         [--concurrency 16,32,64,128,256] [--skip-pipeline] [--skip-client] [--also-root ../other-checkout]
//                         [--shards N [--sequential-shards]] (N replicas, shard 0..N-1, at once or one at a time)
//                         [--profile DIR] (a --cpu-prof profile of each `sluice run` into DIR; summarise with bench/profile.mjs)
//
// 1. `sluice run` of a pipeline run_ai -> drop, scheduled to fire once a few seconds after start:
//    the scrape's wall time (run_ai_scrape_duration_ns), requests and their statuses
//    (run_ai_http_request_ns), peak RSS of the process, and messages delivered, with
//    run_ai's defaults unless --max-in-flight / --min-in-flight set `http.max_in_flight` /
//    `http.min_in_flight`. --also-root runs another built checkout's `sluice run` with the same
//    config before each round (before/after in one run).
// 2. The Run:ai client API directly (bench/lib/scrape-client.mjs) at each concurrency, one
//    process per run: wall time, requests/s and peak RSS.
// Baseline: OpenMeter's collector scrapes sequentially, so one scrape takes at least
// requests x latency (10,000 workloads: 20,020 requests x 25 ms = 500 s).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BENCH_DIR, CLI, ROOT, fmt, median, options, printMachine, runNode, sleep } from './lib/common.mjs';
// The harness's own build, not SLUICE_ROOT's (an older tree measured side by side may predate it).
import { freePort } from '../dist/free_port.js';

const opts = options({ workloads: 10_000, latency: '25ms', rounds: 5, concurrency: '16,32,64,128,256', 'max-in-flight': '', 'min-in-flight': '', shards: 1, 'sequential-shards': false, 'skip-pipeline': false, 'also-root': '', profile: '', 'skip-client': false });
const TICKS_PER_SECOND = 100;

/** The smallest simulated cluster with `running` scrapeable workloads (the simulator mixes in other phases). */
async function clusterSize(running) {
  const { startRunAiSimulator } = await import(`${ROOT}/dist/runai/sim.js`);
  const scrapeable = async (n) => {
    const sim = await startRunAiSimulator({ workloads: n });
    const count = sim.scrapeableWorkloads().length;
    await sim.close();
    return count;
  };
  let lo = running;
  let hi = running * 2;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((await scrapeable(mid)) >= running) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

async function startSimulator(workloads) {
  const child = spawn(process.execPath, [CLI, 'sim', 'runai', '--workloads', String(workloads), '--latency', opts.latency], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('RUNAI_APP_SECRET=')) resolve();
    });
    child.on('exit', () => reject(new Error(`sim runai exited: ${out}`)));
  });
  const env = Object.fromEntries([...out.matchAll(/(RUNAI_\w+)=(\S+)/g)].map((m) => [m[1], m[2]]));
  const running = Number(/(\d+) running/.exec(out)[1]);
  return {
    ...env,
    running,
    pid: child.pid,
    cpuMs: () => {
      const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return ((Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND) * 1000;
    },
    close: () => child.kill(),
  };
}

/** Prometheus text -> [{ name, labels, value }]. */
function parseMetrics(text) {
  const out = [];
  for (const line of text.split('\n')) {
    const m = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** A cron (seconds first, local time) firing once a day, `secondsAhead` from now. */
function onceSoon(secondsAhead) {
  const at = new Date(Date.now() + secondsAhead * 1000);
  return `${at.getSeconds()} ${at.getMinutes()} ${at.getHours()} * * *`;
}

async function pipelineRun(sim, cli = CLI, shard = { index: 0, count: 1, expected: sim.running }, leadSeconds = 4) {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-scrape-'));
  const port = await freePort();
  const config = join(dir, 'scrape.yaml');
  writeFileSync(
    config,
    [
      `http: { address: '127.0.0.1:${port}' }`,
      'logger: { level: warn }',
      'input:',
      '  run_ai:',
      `    url: '${sim.RUNAI_URL}'`,
      `    app_id: '${sim.RUNAI_APP_ID}'`,
      `    app_secret: '${sim.RUNAI_APP_SECRET}'`,
      `    schedule: '${onceSoon(leadSeconds)}'`,
      ...(shard.count > 1 ? [`    shards: ${shard.count}`, `    shard: ${shard.index}`] : []),
      ...(opts['max-in-flight'] !== '' || opts['min-in-flight'] !== '' ? ['    http:'] : []),
      ...(opts['max-in-flight'] !== '' ? [`      max_in_flight: ${opts['max-in-flight']}`] : []),
      ...(opts['min-in-flight'] !== '' ? [`      min_in_flight: ${opts['min-in-flight']}`] : []),
      'output:',
      '  drop: {}',
      '',
    ].join('\n'),
  );
  const simCpu = sim.cpuMs();
  let child;
  const run = runNode([cli, 'run', config], { ...(opts.profile ? { nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${opts.profile}`] } : {}), onSpawn: (c) => (child = c) });
  let scrape;
  const deadline = Date.now() + 10 * 60_000;
  while (Date.now() < deadline) {
    await sleep(250);
    let metrics;
    try {
      metrics = parseMetrics(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
    } catch {
      continue;
    }
    const value = (name, where = () => true) => metrics.filter((m) => m.name === name && where(m.labels)).reduce((n, m) => n + m.value, 0);
    const sent = value('output_sent');
    if (value('run_ai_scrape_duration_ns_count') >= 1 && sent >= shard.expected) {
      const requests = metrics.filter((m) => m.name === 'run_ai_http_request_ns_count' && m.labels.url !== '/api/v1/token');
      scrape = {
        ms: value('run_ai_scrape_duration_ns_sum') / 1e6,
        requests: requests.reduce((n, m) => n + m.value, 0),
        errors: requests.filter((m) => !/^2\d\d$/.test(m.labels.status_code)).reduce((n, m) => n + m.value, 0),
        failures: value('run_ai_resource_failures_total'),
        limit: value('run_ai_in_flight_limit'),
        sent,
      };
      break;
    }
  }
  child.kill('SIGTERM');
  const result = await run;
  rmSync(dir, { recursive: true, force: true });
  if (!scrape) throw new Error(`no complete scrape: ${result.stderr.slice(-2000)}`);
  return { ...scrape, maxRssMB: result.maxRssMB, simCpuMs: sim.cpuMs() - simCpu };
}

/** How many of the simulator's running workloads each of `count` shards scrapes (the same hash as run_ai). */
async function shareOfShards(size, count) {
  const { startRunAiSimulator } = await import(`${ROOT}/dist/runai/sim.js`);
  const { shardOf } = await import(`${ROOT}/dist/windows/shard.js`);
  const sim = await startRunAiSimulator({ workloads: size });
  const shares = Array.from({ length: count }, () => 0);
  for (const w of sim.scrapeableWorkloads()) shares[shardOf(w.id, count)]++;
  await sim.close();
  return shares;
}

/** One scrape by `count` replicas, one per shard: all at once (sharing this machine), or one at a time (each as if on its own node). */
async function shardedRound(sim, shares, sequential) {
  const count = shares.length;
  const runShard = (index) => pipelineRun(sim, CLI, { index, count, expected: shares[index] }, sequential ? 4 : 4 + count);
  const runs = [];
  if (sequential) for (let index = 0; index < count; index++) runs.push(await runShard(index));
  else runs.push(...(await Promise.all(shares.map((_, index) => runShard(index)))));
  return runs;
}

async function clientRun(sim, concurrency) {
  const simCpu = sim.cpuMs();
  const r = await runNode([join(BENCH_DIR, 'lib', 'scrape-client.mjs'), sim.RUNAI_URL, sim.RUNAI_APP_ID, sim.RUNAI_APP_SECRET, String(concurrency)]);
  if (r.code !== 0) throw new Error(r.stderr);
  return { ...JSON.parse(r.stdout), maxRssMB: r.maxRssMB, cpuMs: r.cpuMs, simCpuMs: sim.cpuMs() - simCpu };
}

printMachine();
const size = await clusterSize(opts.workloads);
const sim = await startSimulator(size);
console.log(`sim runai: ${sim.running} running of ${size} workloads, latency ${opts.latency}`);
const sequentialS = ((2 * sim.running + Math.ceil(size / 500)) * parseFloat(opts.latency)) / 1000;
try {
  if (opts.shards > 1) {
    const shares = await shareOfShards(size, opts.shards);
    console.log(`shards: ${opts.shards}, workloads per shard ${shares.join(' / ')}; ${opts['sequential-shards'] ? 'one replica at a time (each as if on its own node)' : 'all replicas at once on this machine'}`);
    const rounds = [];
    for (let round = 0; round < opts.rounds; round++) {
      const runs = await shardedRound(sim, shares, opts['sequential-shards']);
      rounds.push(runs);
      const sent = runs.reduce((n, r) => n + r.sent, 0);
      console.log(
        `  round ${round + 1}: ` +
          runs.map((r, i) => `shard ${i}: scrape ${fmt(r.ms / 1000, 2)} s, ${fmt(r.requests)} requests, ${r.errors} errors, ${fmt(r.sent)} messages, limit ${r.limit}, peak RSS ${fmt(r.maxRssMB)} MB`).join('; ') +
          `; messages in all ${fmt(sent)} of ${fmt(sim.running)}`,
      );
      if (sent !== sim.running) throw new Error(`the shards sent ${sent} messages, the cluster has ${sim.running} running workloads`);
    }
    const slowest = median(rounds.map((runs) => Math.max(...runs.map((r) => r.ms))));
    const rss = median(rounds.map((runs) => Math.max(...runs.map((r) => r.maxRssMB))));
    console.log(`${opts.shards} shards, median of ${opts.rounds}: slowest shard's scrape ${fmt(slowest / 1000, 2)} s, largest peak RSS ${fmt(rss)} MB`);
  }
  if (!opts['skip-pipeline'] && opts.shards <= 1) {
    const runs = [];
    const alsoRuns = [];
    const alsoCli = opts['also-root'] ? join(opts['also-root'], 'dist', 'cli.js') : undefined;
    for (let round = 0; round < opts.rounds; round++) {
      if (alsoCli) {
        // The other checkout first, then this one: both see the same machine load, round by round.
        const a = await pipelineRun(sim, alsoCli);
        alsoRuns.push(a);
        console.log(`  ${opts['also-root']}, round ${round + 1}: scrape ${fmt(a.ms / 1000, 2)} s, ${fmt(a.requests)} requests, ${a.errors} errors, ${fmt(a.sent)} messages, peak RSS ${fmt(a.maxRssMB)} MB`);
      }
      const r = await pipelineRun(sim);
      runs.push(r);
      console.log(
        `  sluice run, round ${round + 1}: scrape ${fmt(r.ms / 1000, 2)} s, ${fmt(r.requests)} requests (${fmt((r.requests / r.ms) * 1000)}/s), ` +
          `${r.errors} errors, ${r.failures} failed workloads, ${fmt(r.sent)} messages, in-flight limit at the end ${r.limit}, peak RSS ${fmt(r.maxRssMB)} MB, sim CPU ${fmt(r.simCpuMs / r.ms * 100)}%`,
      );
    }
    const ms = median(runs.map((r) => r.ms));
    if (alsoCli) {
      const ams = median(alsoRuns.map((r) => r.ms));
      console.log(`${opts['also-root']} (same config), median of ${opts.rounds}: scrape ${fmt(ams / 1000, 2)} s, peak RSS ${fmt(median(alsoRuns.map((r) => r.maxRssMB)))} MB; this checkout ${fmt(ams / ms, 2)}x as fast`);
    }
    console.log(
      `sluice run (run_ai -> drop, max_in_flight ${opts['max-in-flight'] || 'default'}, min_in_flight ${opts['min-in-flight'] || 'default'}), median of ${opts.rounds}: scrape ${fmt(ms / 1000, 2)} s (target <= ${opts.workloads >= 50_000 ? '30 s, issue 16' : '7 s, issue 13'}), ` +
        `${fmt(median(runs.map((r) => (r.requests / r.ms) * 1000)))} requests/s, peak RSS ${fmt(median(runs.map((r) => r.maxRssMB)))} MB (target <= ${opts.workloads >= 50_000 ? 512 : 256}), ` +
        `errors ${runs.reduce((n, r) => n + r.errors, 0)} (target 0); vs sequential (OpenMeter's collector) >= ${fmt(sequentialS)} s: ${fmt(sequentialS / (ms / 1000), 1)}x faster`,
    );
  }
  if (!opts['skip-client']) {
    for (const concurrency of opts.concurrency.split(',').map(Number)) {
      const runs = [];
      for (let round = 0; round < opts.rounds; round++) runs.push(await clientRun(sim, concurrency));
      const ms = median(runs.map((r) => r.ms));
      const requests = runs[0].requests;
      console.log(
        `client API, concurrency ${String(concurrency).padStart(3)}: scrape ${fmt(ms / 1000, 2)} s, ${fmt((requests / ms) * 1000)} requests/s ` +
          `(ceiling ${fmt((concurrency / parseFloat(opts.latency)) * 1000)}/s), client CPU ${fmt(median(runs.map((r) => r.cpuMs)) / 1000, 1)} s, ` +
          `peak RSS ${fmt(median(runs.map((r) => r.maxRssMB)))} MB, sim CPU ${fmt(median(runs.map((r) => r.simCpuMs / r.ms)) * 100)}%, ` +
          `errors ${runs.reduce((n, r) => n + r.errors, 0)}, failed ${runs.reduce((n, r) => n + r.failed, 0)} (median of ${opts.rounds})`,
      );
    }
  }
} finally {
  sim.close();
}
