// `sluice demo` (what `npm start` runs): the OpenMeter Run:ai collector, as the doc configures it,
// against both simulators on loopback, with a live per-customer usage summary until Ctrl-C.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatProblem } from '../config/problems.js';
import { startOpenMeterSimulator } from '../openmeter/sim.js';
import { startRunAiSimulator } from '../runai/sim.js';
import { preparePipeline, runPrepared } from '../service.js';
import { formatSummary } from './sim_openmeter.js';

const CONFIG = fileURLToPath(new URL('../../examples/openmeter-runai-full.yaml', import.meta.url));

export async function demoCommand(args: string[]): Promise<number> {
  if (args[0] === 'ingest') return (await import('./demo_ingest.js')).ingestDemoCommand(args.slice(1));
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      workloads: { type: 'string', default: '25' },
      schedule: { type: 'string', default: '*/5 * * * * *' },
      'log.level': { type: 'string', default: 'WARN' },
    },
  });
  const runAi = await startRunAiSimulator({ workloads: Number(values.workloads), seed: 1 });
  const openMeter = await startOpenMeterSimulator({ token: 'demo-token' });
  const state = mkdtempSync(join(tmpdir(), 'sluice-demo-'));
  process.stdout.write(
    `Run:ai simulator at ${runAi.url} (${runAi.scrapeableWorkloads().length} running workloads), OpenMeter simulator at ${openMeter.url}\n` +
      `Running ${CONFIG}\n  with the schedule sped up to '${values.schedule}'. Usage appears after the first window closes; Ctrl-C to stop.\n`,
  );
  const prepared = preparePipeline(CONFIG, {
    env: {
      ...process.env,
      RUNAI_URL: runAi.url,
      RUNAI_APP_ID: runAi.credentials.id,
      RUNAI_APP_SECRET: runAi.credentials.secret,
      OPENMETER_URL: openMeter.url,
      OPENMETER_TOKEN: 'demo-token',
      SLUICE_BUFFER_PATH: join(state, 'buffer.db'),
      SLUICE_STATE_PATH: join(state, 'runai-state.db'),
    },
    set: [`input.run_ai.schedule=${JSON.stringify(values.schedule)}`, 'http.address=127.0.0.1:0'],
    logLevel: values['log.level'],
  });
  for (const p of prepared.problems) if (p.severity === 'error') process.stderr.write(`${formatProblem(p)}\n`);
  if (!prepared.ready) return 1;

  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let shown = 0;
  const show = tableWriter(process.stdout);
  const timer = setInterval(() => {
    if (openMeter.events.length === shown) return;
    shown = openMeter.events.length;
    show(formatSummary(openMeter.summary(), shown));
  }, 1000);
  try {
    const result = await runPrepared(prepared.ready, stop.signal);
    show(formatSummary(openMeter.summary(), openMeter.events.length));
    process.stdout.write(`Stopped: ${openMeter.events.length} unique events billed${result.undelivered > 0 ? `, ${result.undelivered} undelivered` : ''}; the demo's state is removed.\n`);
    return result.undelivered > 0 ? 1 : 0;
  } finally {
    clearInterval(timer);
    await Promise.all([runAi.close(), openMeter.close()]);
    rmSync(state, { recursive: true, force: true });
  }
}

/**
 * Writes successive tables: on a terminal each replaces the previous one in place (one screen, not
 * a new table every few seconds); elsewhere (a pipe, a file) each is appended.
 */
export function tableWriter(stream: { isTTY?: boolean; write(text: string): unknown }): (table: string) => void {
  let lines = 0;
  return (table) => {
    // Up to the previous table's first line, then clear to the end of the screen.
    if (stream.isTTY && lines > 0) stream.write(`\x1b[${lines}A\x1b[J`);
    stream.write(table);
    lines = table.split('\n').length - 1;
  };
}
