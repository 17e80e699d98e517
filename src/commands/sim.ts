// `sluice sim runai|openmeter`: the simulators as a product feature, so users can develop and
// test mappings and pipelines with no cluster and no OpenMeter account at hand.
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { parseDurationMs } from '../config/duration.js';
import { startRunAiSimulator } from '../runai/sim.js';
import { SIM_USAGE } from './sim_usage.js';

/** Runs a simulator until SIGINT/SIGTERM. */
export async function simCommand(args: string[]): Promise<number> {
  const [which, ...rest] = args;
  if (which === 'runai') return runAi(rest);
  if (which === 'openmeter') return (await import('./sim_openmeter.js')).openMeter(rest);
  if (which === 'kubernetes') return (await import('./sim_kubernetes.js')).kubernetes(rest);
  throw new Error(`sim takes runai, openmeter or kubernetes\n\nUsage:\n${SIM_USAGE}`);
}

async function runAi(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      ...SERVER_OPTIONS,
      workloads: { type: 'string', default: '50' },
      seed: { type: 'string', default: '1' },
      'token-ttl': { type: 'string', default: '1h' },
      'app-id': { type: 'string' },
      'app-secret': { type: 'string' },
      log: { type: 'boolean', default: false },
    },
  });
  const { errorRate, ...server } = serverOptions(values);
  if ((values['app-id'] === undefined) !== (values['app-secret'] === undefined)) throw new Error('--app-id and --app-secret go together');
  const sim = await startRunAiSimulator({
    ...server,
    workloads: number(values.workloads, 'workloads'),
    seed: number(values.seed, 'seed'),
    tokenTtlSeconds: parseDurationMs(values['token-ttl']) / 1000,
    credentials: values['app-id'] ? [{ id: values['app-id'], secret: values['app-secret']! }] : undefined,
    faults: errorRate > 0 ? [{ route: ['workload-metrics', 'pod-metrics'], rate: errorRate, effect: { status: 503 } }] : [],
    onRequest: values.log ? (r) => process.stderr.write(`${r.status} ${r.method} ${r.path}\n`) : undefined,
  });
  process.stdout.write(
    `Run:ai simulator: ${sim.scrapeableWorkloads().length} running of ${sim.cluster.workloads.length} workloads (seed ${sim.seed}) at ${sim.url}\n` +
      `  export RUNAI_URL=${sim.url} RUNAI_APP_ID=${sim.credentials.id} RUNAI_APP_SECRET=${sim.credentials.secret}\n`,
  );
  await untilSignal();
  await sim.close();
  return 0;
}

/** The flags every simulator takes: where it listens, the latency it adds and the share of requests it fails. */
export const SERVER_OPTIONS = {
  port: { type: 'string', default: '0' },
  host: { type: 'string', default: '127.0.0.1' },
  latency: { type: 'string', default: '0s' },
  'error-rate': { type: 'string', default: '0' },
} as const;

/** SERVER_OPTIONS' values as a simulator's `host`, `port` and `latencyMs`, and the error rate for its faults; throws naming a flag that is not a number. */
export function serverOptions(values: { port: string; host: string; latency: string; 'error-rate': string }): { host: string; port: number; latencyMs: number; errorRate: number } {
  return { host: values.host, port: number(values.port, 'port'), latencyMs: parseDurationMs(values.latency), errorRate: number(values['error-rate'], 'error-rate') };
}

export function number(text: string, name: string): number {
  const n = Number(text);
  if (!Number.isFinite(n)) throw new Error(`--${name} takes a number, not ${JSON.stringify(text)}`);
  return n;
}

export async function untilSignal(): Promise<void> {
  await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
}
