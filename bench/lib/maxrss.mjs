// Preloaded (`node --import`) into every process a benchmark measures: writes its peak RSS (bytes)
// and CPU time (ms) as JSON to $BENCH_MAXRSS_FILE when it exits.
import { writeFileSync } from 'node:fs';

const file = process.env.BENCH_MAXRSS_FILE;
if (file) {
  process.on('exit', () => {
    const usage = process.resourceUsage();
    writeFileSync(file, JSON.stringify({ maxRss: usage.maxRSS * 1024, cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000 }));
  });
}
