import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

const shared = { testTimeout: 30_000, hookTimeout: 30_000 };

// Vitest's default (one worker fewer than cores) runs the suite one file at a time on a 2-core CI
// machine, though most files spend their time waiting on servers, child processes and 1 s scrape
// windows. Two groups, one after the other:
// - unit: every file but the fault suite, one per core (at least two);
// - reliability: the fault scenarios (each file runs several collectors at once, scraping every
//   second), one file at a time and never beside the unit files, so they keep up with their windows.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          ...shared,
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/reliability/**'],
          maxWorkers: Math.max(2, availableParallelism()),
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: { ...shared, name: 'reliability', include: ['test/reliability/**/*.test.ts'], maxWorkers: 1, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
