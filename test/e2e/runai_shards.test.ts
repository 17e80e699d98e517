// Sharding end to end: `sluice sim runai` in its own process, scraped at once by an unsharded
// `sluice run` and by two replicas of `shards: 2` whose `shard` comes from a StatefulSet-style
// HOSTNAME, each electing the leader of its own shard on `sluice sim kubernetes`'s Leases. For every
// window they all scraped, the two shards' events are disjoint and their union is exactly the
// unsharded run's events, by id (the Run:ai mapping's uuid v5 of cluster, workload and window).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { startKubernetesSimulator } from '../../src/kubernetes/sim.js';
import { startCli, type CliProcess } from '../support/cli.js';
import { waitFor } from '../support/wait.js';

const MAPPING = fileURLToPath(new URL('../../mappings/runai-workload.jsonata', import.meta.url));

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

function started(proc: CliProcess): CliProcess {
  closers.push(async () => {
    proc.child.kill('SIGKILL');
    await proc.exited;
  });
  return proc;
}

/** Event ids by window (`time`), from the JSON lines a replica printed. */
function eventsByWindow(proc: CliProcess): Map<string, Set<string>> {
  const windows = new Map<string, Set<string>>();
  for (const line of proc.stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    let event: { id: string; time: string };
    try {
      event = JSON.parse(line) as { id: string; time: string };
    } catch {
      continue; // the last line may be cut by the shutdown
    }
    let ids = windows.get(event.time);
    if (!ids) windows.set(event.time, (ids = new Set()));
    ids.add(event.id);
  }
  return windows;
}

describe('run_ai shards', () => {
  it('two shards together scrape exactly the workloads an unsharded replica scrapes, each under its own lease', async () => {
    const sim = started(startCli(['sim', 'runai', '--workloads', '40', '--seed', '21']));
    await waitFor('the Run:ai simulator', () => /RUNAI_APP_SECRET=\S+\n/.test(sim.stdout) || undefined, 15_000);
    const env = Object.fromEntries([...sim.stdout.matchAll(/(RUNAI_\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!]));
    const running = Number(/(\d+) running/.exec(sim.stdout)![1]);
    const kube = await startKubernetesSimulator({ pods: 0, seed: 3 });
    closers.push(() => kube.close());
    const dir = mkdtempSync(join(tmpdir(), 'sluice-shards-'));
    writeFileSync(join(dir, 'kubeconfig'), kube.kubeconfig());
    const config = join(dir, 'shards.yaml');
    writeFileSync(
      config,
      [
        "http: { address: '127.0.0.1:0' }",
        'input:',
        '  run_ai:',
        "    url: '${RUNAI_URL}'",
        "    app_id: '${RUNAI_APP_ID}'",
        "    app_secret: '${RUNAI_APP_SECRET}'",
        "    schedule: '* * * * * *'",
        '    shards: ${SHARDS:1}',
        "    shard: '${HOSTNAME:0}'",
        'pipeline:',
        '  processors:',
        `    - mapping: { file: '${MAPPING}' }`,
        'output:',
        '  stdout: {}',
        '',
      ].join('\n'),
    );
    const whole = started(startCli(['run', config], env));
    const shard = (pod: string): CliProcess =>
      started(
        startCli(['run', config, '--leader-election', '--lease-lock-namespace', 'sluice', '--lease-lock-name', 'runai-collector', '--lease-lock-identity', pod], {
          ...env,
          SHARDS: '2',
          HOSTNAME: pod,
          KUBECONFIG: join(dir, 'kubeconfig'),
        }),
      );
    const shards = [shard('sluice-runai-0'), shard('sluice-runai-1')];
    const all = [whole, ...shards];
    // Windows every replica emitted; the latest of them may be cut short by the shutdown.
    const common = (): string[] => {
      const maps = all.map(eventsByWindow);
      return [...maps[0]!.keys()].filter((time) => maps.every((m) => m.has(time))).sort();
    };
    await waitFor('three windows scraped by every replica', () => (common().length >= 4 ? true : undefined), 40_000);
    for (const proc of all) proc.child.kill('SIGTERM');
    expect(await Promise.all(all.map((p) => p.exited))).toEqual([0, 0, 0]);

    const [wholeEvents, shard0, shard1] = all.map(eventsByWindow) as [Map<string, Set<string>>, Map<string, Set<string>>, Map<string, Set<string>>];
    const windows = common().slice(0, -1);
    expect(windows.length).toBeGreaterThanOrEqual(3);
    for (const time of windows) {
      const a = shard0.get(time)!;
      const b = shard1.get(time)!;
      expect(wholeEvents.get(time)!.size).toBe(running);
      expect(a.size).toBeGreaterThan(0);
      expect(b.size).toBeGreaterThan(0);
      expect([...a].filter((id) => b.has(id))).toEqual([]);
      expect(new Set([...a, ...b])).toEqual(wholeEvents.get(time));
    }
    // Each shard elected its own leader: one Lease per shard, held by its replica.
    const leases = kube.objects('lease', 'sluice') as unknown as { metadata: { name: string }; spec: { holderIdentity?: string } }[];
    expect(leases.map((l) => [l.metadata.name, l.spec.holderIdentity]).sort()).toEqual([
      ['runai-collector-shard-0', expect.stringMatching(/^(sluice-runai-0)?$/)],
      ['runai-collector-shard-1', expect.stringMatching(/^(sluice-runai-1)?$/)],
    ]);
    expect(shards[0]!.stderr).toContain('scrapes shard 0 of 2');
    expect(shards[1]!.stderr).toContain('scrapes shard 1 of 2');
  }, 90_000);
});
