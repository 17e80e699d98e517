import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startKubernetesSimulator } from '../kubernetes/sim.js';
import { number, SERVER_OPTIONS, serverOptions, untilSignal } from './sim.js';

/** `sluice sim kubernetes`: a Kubernetes API server with a seeded cluster; writes a kubeconfig pointing at it. */
export async function kubernetes(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      ...SERVER_OPTIONS,
      pods: { type: 'string', default: '40' },
      nodes: { type: 'string', default: '4' },
      seed: { type: 'string', default: '1' },
      token: { type: 'string' },
      kubeconfig: { type: 'string' },
      log: { type: 'boolean', default: false },
    },
  });
  const { errorRate, ...server } = serverOptions(values);
  const sim = await startKubernetesSimulator({
    ...server,
    pods: number(values.pods, 'pods'),
    nodes: number(values.nodes, 'nodes'),
    seed: number(values.seed, 'seed'),
    ...(values.token ? { token: values.token } : {}),
    faults: errorRate > 0 ? [{ route: ['pods', 'nodes', 'persistentvolumes', 'persistentvolumeclaims'], rate: errorRate, effect: { status: 503 } }] : [],
    onRequest: values.log ? (r) => process.stderr.write(`${r.status} ${r.method} ${r.path}${r.query['continue'] ? ' (continue)' : ''}\n`) : undefined,
  });
  const file = values.kubeconfig ? resolve(values.kubeconfig) : join(mkdtempSync(join(tmpdir(), 'sluice-sim-kube-')), 'config');
  writeFileSync(file, sim.kubeconfig(), { mode: 0o600 });
  const { pods, nodes, persistentVolumes, namespaces } = sim.cluster;
  process.stdout.write(
    `Kubernetes simulator: ${pods.length} pods in ${namespaces.length} namespaces, ${nodes.length} nodes, ${persistentVolumes.length} volumes (seed ${sim.seed}) at ${sim.url}\n` +
      `  export KUBECONFIG=${file}\n`,
  );
  await untilSignal();
  await sim.close();
  return 0;
}
