// Leader election wired into `sluice run`: two replicas of a prometheus pipeline against the
// Kubernetes simulator (Leases) and the Prometheus simulator. Only the leader scrapes; the follower
// is ready and idle; /ready and leader_election_master_status say who leads; when the leader stops
// it releases the Lease and the follower takes over.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startKubernetesSimulator, type KubernetesSimulator } from '../../src/kubernetes/sim.js';
import { startPrometheusSimulator, type PrometheusSimulator } from '../../src/prometheus/sim.js';
import { startCli, type CliProcess } from '../support/cli.js';

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await Promise.resolve(probe()).catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`${what} not reached within ${timeoutMs}ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface Replica {
  readonly name: string;
  readonly proc: CliProcess;
  readonly url: string;
}

interface Ready {
  statuses: unknown[];
  leader_election: { identity: string; leading: boolean; leader: string | undefined; lease: string };
}

async function ready(replica: Replica): Promise<{ status: number; body: Ready }> {
  const response = await fetch(`${replica.url}/ready`);
  return { status: response.status, body: (await response.json()) as Ready };
}

async function masterStatus(replica: Replica): Promise<number> {
  const text = await (await fetch(`${replica.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('leader_election_master_status{name="collector"}'));
  return Number(line?.split(' ')[1]);
}

async function setup() {
  const kube = await startKubernetesSimulator({ pods: 0, seed: 3 });
  closers.push(() => kube.close());
  const prom = await startPrometheusSimulator();
  closers.push(() => prom.close());
  const dir = mkdtempSync(join(tmpdir(), 'sluice-leader-'));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, kube.kubeconfig());
  return { kube, prom, dir, kubeconfig };
}

function config(dir: string, prom: PrometheusSimulator, replica: string, extra = ''): string {
  const file = join(dir, `${replica}.yaml`);
  writeFileSync(
    file,
    `http:\n  address: 127.0.0.1:0\ninput:\n  prometheus:\n    url: ${prom.url}\n    schedule: "* * * * * *"\n    headers:\n      X-Replica: ${replica}\n` +
      `    queries:\n      - query:\n          name: usage\n          promql: usage\n${extra}` +
      'leader_election:\n  enabled: true\n  lease_lock_namespace: sluice\n  lease_lock_name: collector\n  lease_duration: 3s\n  lease_renew_deadline: 2s\n  lease_retry_period: 500ms\n' +
      'output:\n  stdout: {}\n',
  );
  return file;
}

async function start(name: string, file: string, kubeconfig: string, args: string[] = []): Promise<Replica> {
  const proc = startCli(['run', file, '--lease-lock-identity', name, ...args], { KUBECONFIG: kubeconfig });
  closers.push(async () => {
    proc.child.kill('SIGKILL');
    await proc.exited;
  });
  const [, url] = await proc.waitForLog(/Listening for HTTP requests at (http:\/\/127\.0\.0\.1:\d+)/, 15_000);
  return { name, proc, url: url! };
}

const lines = (proc: CliProcess): string[] => proc.stdout.split('\n').filter((l) => l.startsWith('{'));
const scrapedBy = (prom: PrometheusSimulator, replica: string) => prom.requests.filter((r) => r.query === 'usage' && r.headers['x-replica'] === replica).length;

describe('leader election in sluice run', () => {
  it('only the leader scrapes; the follower is ready and idle; /ready and the metric say who leads; a stopped leader hands over', async () => {
    const { kube, prom, dir, kubeconfig } = await setup();
    const a = await start('pod-a', config(dir, prom, 'pod-a'), kubeconfig);
    const b = await start('pod-b', config(dir, prom, 'pod-b'), kubeconfig);
    const [leader, follower] = await waitFor('a leader', async () => {
      const [ra, rb] = [await ready(a), await ready(b)];
      if (ra.body.leader_election.leading) return [a, b] as const;
      if (rb.body.leader_election.leading) return [b, a] as const;
      return undefined;
    });
    await waitFor('three windows from the leader', () => (lines(leader.proc).length >= 3 ? true : undefined));
    const [rl, rf] = [await ready(leader), await ready(follower)];
    expect(rl.status).toBe(200);
    expect(rf.status).toBe(200);
    expect(rl.body.leader_election).toMatchObject({ identity: leader.name, leading: true, leader: leader.name, lease: 'sluice/collector' });
    expect(rf.body.leader_election).toMatchObject({ identity: follower.name, leading: false, leader: leader.name });
    expect(await masterStatus(leader)).toBe(1);
    expect(await masterStatus(follower)).toBe(0);
    expect(lines(follower.proc)).toEqual([]);
    expect(scrapedBy(prom, follower.name)).toBe(0);
    expect(scrapedBy(prom, leader.name)).toBeGreaterThanOrEqual(3);
    const lease = kube.objects('lease', 'sluice')[0] as { spec: { holderIdentity: string } };
    expect(lease.spec.holderIdentity).toBe(leader.name);

    // A leader stopped cleanly releases the Lease: the follower leads and scrapes at once.
    leader.proc.child.kill('SIGTERM');
    expect(await leader.proc.exited).toBe(0);
    await waitFor('the follower to lead', async () => ((await ready(follower)).body.leader_election.leading ? true : undefined));
    await waitFor('windows from the new leader', () => (lines(follower.proc).length >= 2 ? true : undefined));
    expect(await masterStatus(follower)).toBe(1);
    expect(follower.proc.stderr).toContain('Prometheus scrapes: this replica leads');
  }, 60_000);

  it('refuses leader election without a lease namespace, naming the field', async () => {
    const { prom, dir, kubeconfig } = await setup();
    const file = config(dir, prom, 'x');
    writeFileSync(file, readFileSync(file, 'utf8').replace('lease_lock_namespace: sluice', "lease_lock_namespace: ''"));
    const run = startCli(['run', file], { KUBECONFIG: kubeconfig, K8S_NAMESPACE: '', LEASE_LOCK_NAMESPACE: '' });
    expect(await run.exited).toBe(1);
    expect(run.stderr).toMatch(/x\.yaml\(\d+,\d+\) leader_election\.lease_lock_namespace: lease lock namespace is required when leader election is enabled/);
  });
});
