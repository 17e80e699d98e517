import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

const shared = { testTimeout: 30_000, hookTimeout: 30_000 };

// Vitest's default (one worker fewer than cores) runs the suite one file at a time on a 2-core CI
// machine, though most files spend their time waiting on servers, child processes and 1 s scrape
// windows. Two groups, one after the other:
// - unit: every file but the collector scenarios, one per core (at least two);
// - reliability: the scenarios that run whole collectors (several at once, scraping every second),
//   two files at a time (3 min 30 s for the whole suite on a quiet 2-core machine),
//   one file at a time and never beside the unit files, so they keep up with their windows.
// The fault tests of one input in this process (owed back-off, runaway listings) count windows,
// not time, and run with the unit files.
const COLLECTOR_SCENARIOS = ['crash_restart', 'disk_and_shutdown', 'dry_run', 'given_up', 'sink_faults'].map((name) => `test/reliability/${name}.test.ts`);

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          ...shared,
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: COLLECTOR_SCENARIOS,
          maxWorkers: Math.max(3, availableParallelism() + 1),
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: { ...shared, name: 'reliability', include: COLLECTOR_SCENARIOS, maxWorkers: 2, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
