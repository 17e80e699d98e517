// Failover with no billing gap, end to end: two `sluice run` replicas of the OpenMeter Run:ai
// pipeline (examples/openmeter-runai.yaml, state on, a one-second schedule) electing a leader on
// `sluice sim kubernetes`'s Leases, scraping the Run:ai simulator and sending to the OpenMeter
// simulator. The leader is SIGKILLed at random moments three times and restarted on empty state
// (a rescheduled pod): every window from the first to the last is ingested for every workload,
// exactly once by id.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startKubernetesSimulator } from '../../src/kubernetes/sim.js';
import { uuidV5 } from '../../src/mapping/environment.js';
import { startOpenMeterSimulator } from '../../src/openmeter/sim.js';
import { startRunAiSimulator } from '../../src/runai/sim.js';
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

describe('Run:ai collector failover', () => {
  it('SIGKILLing the leader three times loses no window and bills none twice', async () => {
    const kube = await startKubernetesSimulator({ pods: 0, seed: 5 });
    closers.push(() => kube.close());
    const runAi = await startRunAiSimulator({ workloads: 8, seed: 13 });
    closers.push(() => runAi.close());
    const openMeter = await startOpenMeterSimulator({ token: 'om-failover-token' });
    closers.push(() => openMeter.close());
    const dir = mkdtempSync(join(tmpdir(), 'sluice-failover-'));
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, kube.kubeconfig());
    const env = {
      KUBECONFIG: kubeconfig,
      RUNAI_URL: runAi.url,
      RUNAI_APP_ID: runAi.credentials.id,
      RUNAI_APP_SECRET: runAi.credentials.secret,
      OPENMETER_URL: openMeter.url,
      OPENMETER_TOKEN: 'om-failover-token',
    };
    let starts = 0;
    const launch = async (name: string): Promise<Replica> => {
      const proc = startCli(
        [
          'run',
          'examples/openmeter-runai.yaml',
          '-s',
          "input.run_ai.schedule='* * * * * *'",
          '-s',
          "input.run_ai.metrics_offset='0s'",
          '-s',
          `input.run_ai.state.path=${join(dir, `${name}-${starts++}.db`)}`,
          '-s',
          'http.address=127.0.0.1:0',
          ...['--leader-election', '--lease-lock-namespace', 'sluice', '--lease-lock-name', 'runai-collector', '--lease-lock-identity', name],
          ...['--lease-duration', '3s', '--lease-renew-deadline', '2s', '--lease-retry-period', '500ms'],
        ],
        env,
      );
      closers.push(async () => {
        proc.child.kill('SIGKILL');
        await proc.exited;
      });
      const [, url] = await proc.waitForLog(/Listening for HTTP requests at (http:\/\/127\.0\.0\.1:\d+)/, 15_000);
      return { name, proc, url: url! };
    };
    const live = new Map<string, Replica>([
      ['pod-a', await launch('pod-a')],
      ['pod-b', await launch('pod-b')],
    ]);
    const leaderNow = () =>
      waitFor('a leader', async () => {
        for (const replica of live.values()) {
          const body = (await (await fetch(`${replica.url}/ready`)).json()) as { leader_election: { leading: boolean } };
          if (body.leader_election.leading) return replica;
        }
        return undefined;
      });
    const windows = () => new Set(openMeter.events.map((e) => e.time)).size;
    for (let kill = 0; kill < 3; kill++) {
      const leader = await leaderNow();
      const before = windows();
      await waitFor('two more windows ingested', () => (windows() >= before + 2 ? true : undefined));
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 1000)));
      leader.proc.child.kill('SIGKILL');
      await leader.proc.exited;
      live.delete(leader.name);
      await leaderNow();
      live.set(leader.name, await launch(leader.name));
    }
    await leaderNow();
    const before = windows();
    await waitFor('three more windows ingested', () => (windows() >= before + 3 ? true : undefined));
    for (const replica of live.values()) replica.proc.child.kill('SIGTERM');
    for (const replica of live.values()) expect(await replica.proc.exited).toBe(0);

    // Every window from the first to the last, for every workload, by id.
    const workloads = runAi.scrapeableWorkloads();
    const times = [...new Set(openMeter.events.map((e) => Date.parse(e.time as string)))].sort((x, y) => x - y);
    const expected = new Set<string>();
    for (let t = times[0]!; t <= times[times.length - 1]!; t += 1000) {
      const time = new Date(t).toISOString().replace('.000Z', 'Z');
      for (const w of workloads) expected.add(uuidV5([runAi.cluster.clusterId, 'workload', w.id, time, '1s'].join('|'), 'url'));
    }
    const ids = openMeter.events.map((e) => e.id as string);
    const missing = [...expected].filter((id) => !ids.includes(id));
    expect(missing, `${missing.length} events missing`).toEqual([]);
    expect(ids.filter((id) => !expected.has(id))).toEqual([]);
    expect(new Set(ids).size).toBe(ids.length);
    const resent = openMeter.deliveries.length - openMeter.events.length;
    console.log(`[failover] 3 SIGKILLs: ${times.length} windows x ${workloads.length} workloads = ${expected.size} events, all ingested once by id; ${resent} copies resent (absorbed by dedupe)`);
  }, 120_000);
});
