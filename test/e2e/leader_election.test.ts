// Leader election wired into `sluice run`: two replicas of a prometheus pipeline against the
// Kubernetes simulator (Leases) and the Prometheus simulator. Only the leader scrapes; the follower
// is ready and idle; /ready and leader_election_master_status say who leads; when the leader stops
// it releases the Lease and the follower takes over.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Lease } from '../../src/kubernetes/api.js';
import { startKubernetesSimulator, type KubernetesSimulator } from '../../src/kubernetes/sim.js';
import { startPrometheusSimulator, type PrometheusSimulator } from '../../src/prometheus/sim.js';
import { startCli, type CliProcess } from '../support/cli.js';
import { waitFor } from '../support/wait.js';

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});


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
    const lease = kube.objects('lease', 'sluice')[0] as Lease | undefined;
    expect(lease?.spec.holderIdentity).toBe(leader.name);

    // A leader stopped cleanly releases the Lease: the follower leads and scrapes at once.
    leader.proc.child.kill('SIGTERM');
    expect(await leader.proc.exited).toBe(0);
    await waitFor('the follower to lead', async () => ((await ready(follower)).body.leader_election.leading ? true : undefined));
    await waitFor('windows from the new leader', () => (lines(follower.proc).length >= 2 ? true : undefined));
    expect(await masterStatus(follower)).toBe(1);
    expect(follower.proc.stderr).toContain('Prometheus scrapes: this replica leads');
  }, 60_000);

  it('the ledger follows the leadership: leaders SIGKILLed three times, every window delivered, the same bytes whoever sent it', async () => {
    const { kube, prom, dir, kubeconfig } = await setup();
    // Each start gets an empty state file, as a pod rescheduled with ephemeral storage does: only
    // the watermark on the Lease can tell a new leader where the old one stopped.
    const state = (file: string) => `    state:\n      path: ${file}\n      max_backfill: 10m\n`;
    const runs: Replica[] = [];
    const launch = async (name: 'pod-a' | 'pod-b'): Promise<Replica> => {
      const replica = await start(name, config(dir, prom, name, state(join(dir, `${name}-${runs.length}.db`))), kubeconfig);
      runs.push(replica);
      return replica;
    };
    const live = new Map<string, Replica>([
      ['pod-a', await launch('pod-a')],
      ['pod-b', await launch('pod-b')],
    ]);
    const leaderNow = () =>
      waitFor('a leader', async () => {
        for (const replica of live.values()) if ((await ready(replica)).body.leader_election.leading) return replica;
        return undefined;
      });
    for (let kill = 0; kill < 3; kill++) {
      const leader = await leaderNow();
      const before = lines(leader.proc).length;
      await waitFor('two windows from this leader', () => (lines(leader.proc).length >= before + 2 ? true : undefined));
      // At a moment that varies with the schedule: mid-scrape, or between windows.
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 1000)));
      leader.proc.child.kill('SIGKILL');
      await leader.proc.exited;
      // The other replica takes over once the Lease expires (a pod restarted under the same
      // identity would take its own Lease back at once and continue from its own ledger).
      live.delete(leader.name);
      await leaderNow();
      live.set(leader.name, await launch(leader.name as 'pod-a' | 'pod-b'));
    }
    const last = await leaderNow();
    const before = lines(last.proc).length;
    await waitFor('two windows from the last leader', () => (lines(last.proc).length >= before + 2 ? true : undefined));
    for (const replica of live.values()) replica.proc.child.kill('SIGTERM');
    for (const replica of live.values()) await replica.proc.exited;

    // Every window from the first to the last, whoever sent it; every copy the same bytes.
    const copies = new Map<string, Set<string>>();
    let sent = 0;
    for (const run of runs) {
      for (const line of lines(run.proc)) {
        sent++;
        const event = JSON.parse(line) as { timestamp: string };
        copies.set(event.timestamp, (copies.get(event.timestamp) ?? new Set()).add(line));
      }
    }
    const ends = [...copies.keys()].map(Date.parse).sort((x, y) => x - y);
    expect(ends.length).toBeGreaterThanOrEqual(8);
    for (let i = 1; i < ends.length; i++) expect(ends[i]! - ends[i - 1]!, `no window missing after ${new Date(ends[i - 1]!).toISOString()}`).toBe(1000);
    for (const [end, versions] of copies) expect(versions.size, `one version of ${end}`).toBe(1);
    const lease = kube.objects('lease', 'sluice')[0] as { metadata: { annotations?: Record<string, string> } };
    const watermark = JSON.parse(lease.metadata.annotations?.['sluice.dev/watermark.input.prometheus'] ?? '{}') as { end?: number; type?: string };
    expect(watermark.type).toBe('prometheus');
    expect(watermark.end).toBeGreaterThanOrEqual(ends[ends.length - 3]!);
    // New leaders continued from the watermark their predecessor left.
    expect(runs.filter((r) => r.proc.stderr.includes('continues from the watermark the previous leader left')).length).toBeGreaterThanOrEqual(2);
    console.log(`[leader election] 3 SIGKILLs: ${ends.length} windows, ${sent} sent, ${sent - ends.length} resent with the same bytes`);
  }, 120_000);

  it('a leader paused (SIGSTOP) past its lease steps down when resumed: it sends no window the new leader owns, and every copy is the same bytes', async () => {
    const { kube, prom, dir, kubeconfig } = await setup();
    const state = (name: string) => `    state:\n      path: ${join(dir, `${name}.db`)}\n      max_backfill: 10m\n`;
    const a = await start('pod-a', config(dir, prom, 'pod-a', state('pod-a')), kubeconfig);
    const b = await start('pod-b', config(dir, prom, 'pod-b', state('pod-b')), kubeconfig);
    const [old, next] = await waitFor('a leader', async () => {
      if ((await ready(a)).body.leader_election.leading) return [a, b] as const;
      if ((await ready(b)).body.leader_election.leading) return [b, a] as const;
      return undefined;
    });
    await waitFor('two windows from the leader', () => (lines(old.proc).length >= 2 ? true : undefined));
    old.proc.child.kill('SIGSTOP');
    const stoppedAt = Date.now();
    await waitFor('the other replica to lead', async () => ((await ready(next)).body.leader_election.leading ? true : undefined));
    await waitFor('three windows from the new leader', () => (lines(next.proc).length >= 3 ? true : undefined));
    const sentBefore = lines(old.proc).length;
    old.proc.child.kill('SIGCONT');
    const resumedAt = Date.now();
    await waitFor('the old leader to follow', async () => ((await ready(old)).body.leader_election.leading === false ? true : undefined));
    const countNow = lines(next.proc).length;
    await waitFor('two more windows from the new leader', () => (lines(next.proc).length >= countNow + 2 ? true : undefined));
    const lease = kube.objects('lease', 'sluice')[0] as { spec: { holderIdentity: string }; metadata: { annotations?: Record<string, string> } };
    expect(lease.spec.holderIdentity).toBe(next.name);

    // Resumed, the old leader scraped nothing new: whatever it sent after SIGCONT was already read before it stopped.
    const late = lines(old.proc)
      .slice(sentBefore)
      .map((l) => Date.parse((JSON.parse(l) as { timestamp: string }).timestamp));
    for (const end of late) expect(end).toBeLessThan(stoppedAt + 1000);
    const copies = new Map<string, Set<string>>();
    for (const line of [...lines(old.proc), ...lines(next.proc)]) {
      const end = (JSON.parse(line) as { timestamp: string }).timestamp;
      copies.set(end, (copies.get(end) ?? new Set()).add(line));
    }
    for (const [end, versions] of copies) expect(versions.size, `one version of ${end}`).toBe(1);
    const ends = [...copies.keys()].map(Date.parse).sort((x, y) => x - y);
    for (let i = 1; i < ends.length; i++) expect(ends[i]! - ends[i - 1]!, `no window missing after ${new Date(ends[i - 1]!).toISOString()}`).toBe(1000);
    const watermark = JSON.parse(lease.metadata.annotations?.['sluice.dev/watermark.input.prometheus'] ?? '{}') as { end: number };
    expect(watermark.end).toBeGreaterThan(resumedAt - 3000);
    console.log(`[leader election] SIGSTOP ${resumedAt - stoppedAt} ms: ${ends.length} windows, ${late.length} sent by the old leader after SIGCONT (all read before the pause)`);
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
