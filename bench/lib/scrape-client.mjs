// One scrape through sluice's Run:ai client API with a given concurrency, as the run_ai input
// does it (list workloads, then every workload's metrics at once through the client's queue).
// Run in its own process so its peak RSS is its own. Prints one JSON line.
//
//   node bench/lib/scrape-client.mjs <url> <app id> <app secret> <concurrency>
import { setMaxListeners } from 'node:events';
import { pino } from 'pino';
import { ROOT } from './common.mjs';

const [url, appId, appSecret, concurrencyArg] = process.argv.slice(2);
const { RunAiClient } = await import(`${ROOT}/dist/runai/client.js`);
const { Metrics } = await import(`${ROOT}/dist/engine/metrics.js`);
const { Secrets } = await import(`${ROOT}/dist/engine/secrets.js`);
const { DEFAULT_METRICS } = await import(`${ROOT}/dist/components/inputs/run_ai.js`);

const metrics = new Metrics();
const client = new RunAiClient({
  url,
  credentials: { grantType: 'app_token', appId, appSecret },
  pageSize: 500,
  // run_ai's defaults (input.run_ai.http).
  http: { timeoutMs: 30_000, retryCount: 1, retryWaitMs: 100, retryMaxWaitMs: 1000 },
  concurrency: Number(concurrencyArg),
  logger: pino({ level: 'silent' }),
  metrics,
  secrets: new Secrets(),
});
const signal = new AbortController().signal;
setMaxListeners(0, signal);
await client.token(signal);
const end = Math.floor(Date.now() / 30_000) * 30_000;
const window = { start: end - 30_000, end };
const started = performance.now();
const listing = await client.listWorkloads(signal);
const outcomes = await Promise.allSettled(
  listing.items.map((w) => client.metrics({ kind: 'workload', workloadId: w.id }, DEFAULT_METRICS.workload, window, signal)),
);
const ms = performance.now() - started;
await client.close();
let requests = 0;
let errors = 0;
for (const series of (await metrics.registry.getSingleMetric('run_ai_http_request_ns').get()).values) {
  if (!series.metricName?.endsWith('_count')) continue;
  if (series.labels.url === '/api/v1/token') continue;
  requests += series.value;
  if (!/^2\d\d$/.test(String(series.labels.status_code))) errors += series.value;
}
const failed = outcomes.filter((o) => o.status === 'rejected').length;
console.log(JSON.stringify({ ms, workloads: listing.items.length, requests, errors, failed }));
