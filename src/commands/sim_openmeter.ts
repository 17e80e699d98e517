import { parseArgs } from 'node:util';
import { parseDurationMs } from '../config/duration.js';
import { startOpenMeterSimulator, type UsageSummary } from '../openmeter/sim.js';
import { SERVER_OPTIONS, serverOptions, untilSignal } from './sim.js';

/** `sluice sim openmeter`: an OpenMeter-compatible ingest endpoint printing a running usage summary. */
export async function openMeter(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      ...SERVER_OPTIONS,
      token: { type: 'string' },
      summary: { type: 'string', default: '10s' },
    },
  });
  const { errorRate, ...server } = serverOptions(values);
  const sim = await startOpenMeterSimulator({
    ...server,
    token: values.token,
    rates: errorRate > 0 ? [{ rate: errorRate, fault: { type: 'status', status: 500 } }] : [],
  });
  process.stdout.write(`OpenMeter simulator at ${sim.url}\n  export OPENMETER_URL=${sim.url}${values.token ? ` OPENMETER_TOKEN=${values.token}` : ''}\n`);
  const timer = setInterval(() => process.stdout.write(formatSummary(sim.summary(), sim.events.length)), parseDurationMs(values.summary));
  await untilSignal();
  clearInterval(timer);
  process.stdout.write(formatSummary(sim.summary(), sim.events.length));
  await sim.close();
  return 0;
}

const COLUMNS: [string, string][] = [
  ['gpu_allocation_minutes', 'GPU min'],
  ['gpu_usage_minutes', 'GPU used min'],
  ['cpu_request_core_minutes', 'CPU core min'],
  ['cpu_memory_request_gigabyte_minutes', 'Mem GiB min'],
];

/** What the columns count, in one line under the table. */
export const LEGEND = 'Per subject, since start: GPU-minutes allocated and used (allocation x utilization), CPU core-minutes and memory GiB-minutes requested.';

/** A per-subject table of the billed quantities the Run:ai mapping produces. */
export function formatSummary(summary: UsageSummary, events: number): string {
  const rows = Object.entries(summary)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([subject, byType]) => {
      const totals = Object.values(byType).reduce<Record<string, number>>((acc, { data }) => {
        for (const [k, v] of Object.entries(data)) acc[k] = (acc[k] ?? 0) + v;
        return acc;
      }, {});
      const count = Object.values(byType).reduce((n, t) => n + t.events, 0);
      return [subject, String(count), ...COLUMNS.map(([key]) => (totals[key] ?? 0).toFixed(2))];
    });
  const header = ['subject', 'events', ...COLUMNS.map(([, title]) => title)];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return `\n${new Date().toISOString()}  ${events} unique events billed\n${[line(header), ...rows.map(line)].join('\n')}\n${LEGEND}\n`;
}
