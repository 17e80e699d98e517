#!/usr/bin/env node
// Startup: `sluice lint` of the OpenMeter doc's example, and `sluice run` to its first request.
//
//   node bench/startup.mjs [--runs 20]
//
// lint: wall time of `sluice lint examples/openmeter-runai.yaml` (hyperfine when installed,
//   else repeated spawns), vs `node -e ''` (bare Node start) in the same run.
// run:  from spawning `sluice run` to the first HTTP request arriving at a listener in this
//   process: for examples/openmeter-runai.yaml, the run_ai input's token request; for
//   bench/pipeline-runai.yaml (generate -> mapping -> http_client), the first batch at the sink
//   (batching period 1s lowered to deliver one event at once). Baseline: the hand-written loop
//   (bench/lib/handwritten.mjs) to its first request.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BENCH_DIR, CLI, ROOT, fmt, median, options, printMachine } from './lib/common.mjs';

const opts = options({ runs: 20 });
const EXAMPLE = join(ROOT, 'examples', 'openmeter-runai.yaml');

function hasHyperfine() {
  try {
    execFileSync('hyperfine', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Median wall time (ms) of each command; hyperfine when available. */
async function wallTimes(commands) {
  if (hasHyperfine()) {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-startup-'));
    const file = join(dir, 'out.json');
    execFileSync('hyperfine', ['--warmup', '3', '--runs', String(opts.runs), '--export-json', file, '--style', 'none', ...commands.map((c) => c.join(' '))], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const results = JSON.parse(readFileSync(file, 'utf8')).results;
    rmSync(dir, { recursive: true, force: true });
    return { tool: 'hyperfine', ms: results.map((r) => r.median * 1000) };
  }
  const ms = [];
  for (const command of commands) {
    const times = [];
    for (let i = 0; i < opts.runs + 3; i++) {
      const started = performance.now();
      const child = spawn(command[0], command.slice(1), { cwd: ROOT, stdio: 'ignore' });
      await once(child, 'exit');
      if (i >= 3) times.push(performance.now() - started);
    }
    ms.push(median(times));
  }
  return { tool: 'repeated spawns', ms };
}

/** Median ms from spawn to the first request at a local listener; `args(url)` builds the command. */
async function toFirstRequest(args, env = () => ({})) {
  const times = [];
  for (let i = 0; i < opts.runs + 2; i++) {
    let arrived;
    const first = new Promise((resolve) => (arrived = resolve));
    const server = createServer((req, res) => {
      arrived(performance.now());
      req.resume();
      res.writeHead(503).end();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${server.address().port}`;
    const started = performance.now();
    const child = spawn(process.execPath, args(url), { cwd: ROOT, env: { ...process.env, ...env(url) }, stdio: 'ignore' });
    const at = await Promise.race([first, once(child, 'exit').then(() => NaN)]);
    child.kill('SIGKILL');
    await once(child, 'exit').catch(() => {});
    server.closeAllConnections();
    server.close();
    if (i >= 2) times.push(at - started);
  }
  return median(times);
}

printMachine();
const lint = await wallTimes([
  [process.execPath, '-e', "''"],
  [process.execPath, CLI, 'lint', EXAMPLE],
]);
console.log(
  `lint examples/openmeter-runai.yaml: ${fmt(lint.ms[1])} ms (target <= 500 ms); bare node -e '': ${fmt(lint.ms[0])} ms; ratio ${fmt(lint.ms[1] / lint.ms[0], 1)}x (${lint.tool}, median of ${opts.runs})`,
);

const runAi = await toFirstRequest(
  () => [CLI, 'run', EXAMPLE],
  (url) => ({ RUNAI_URL: url, RUNAI_APP_ID: 'bench', RUNAI_APP_SECRET: 'bench', OPENMETER_URL: url }),
);
const generate = await toFirstRequest(
  () => [CLI, 'run', join(BENCH_DIR, 'pipeline-runai.yaml'), '-s', 'output.http_client.batching.count=1'],
  (url) => ({ BENCH_SINK_URL: url, BENCH_EVENTS: '1', BENCH_BATCH_SIZE: '1' }),
);
const handwritten = await toFirstRequest((url) => [join(BENCH_DIR, 'lib', 'handwritten.mjs'), url, '1', join(ROOT, 'mappings', 'runai-workload.jsonata')]);
console.log(
  `run examples/openmeter-runai.yaml to its first request (Run:ai token): ${fmt(runAi)} ms (target <= 1000 ms)\n` +
    `run bench/pipeline-runai.yaml to its first event at the sink: ${fmt(generate)} ms; hand-written loop to its first request: ${fmt(handwritten)} ms; ratio ${fmt(generate / handwritten, 1)}x (median of ${opts.runs})`,
);
