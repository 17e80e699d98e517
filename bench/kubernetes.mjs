// The Kubernetes side of OpenMeter's collector, each beside a hand-written baseline in the same run:
//   1. quantities: parseQuantity + quantityToNumber (exact, Kubernetes' rules) vs a regex-and-Number
//      parser that handles only the common spellings (what people write when they hand-roll it);
//   2. one list of N pods from `sluice sim kubernetes`, paged at 500: the client (bounds, dedupe,
//      Status errors) vs a bare undici loop over the same pages.
//
//   npm run build && node bench/kubernetes.mjs [--rounds 5] [--pods 20000] [--quantities 1000000]
import { pino } from 'pino';
import { request } from 'undici';
import { join } from 'node:path';
import { fmt, median, options, printMachine, ROOT } from './lib/common.mjs';

const opts = options({ rounds: 5, pods: 20000, quantities: 1_000_000 });
const dist = (path) => import(join(ROOT, 'dist', path));
const { parseQuantity, quantityToNumber } = await dist('kubernetes/quantity.js');
const { startKubernetesSimulator } = await dist('kubernetes/sim.js');
const { KubernetesClient } = await dist('kubernetes/client.js');
const { CPU_QUANTITIES, MEMORY_QUANTITIES, GPU_QUANTITIES } = await dist('kubernetes/sim_cluster.js');
const { Metrics } = await dist('engine/metrics.js');
const { Secrets } = await dist('engine/secrets.js');

printMachine();

// -- 1. quantities --------------------------------------------------------------------------------
const SUFFIX = { '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
const handwritten = (text) => {
  const match = /^([+-]?[\d.]+)([a-zA-Z]*)$/.exec(text);
  if (!match || !(match[2] in SUFFIX)) throw new Error(`bad quantity ${text}`);
  return Number(match[1]) * SUFFIX[match[2]];
};
const texts = [...CPU_QUANTITIES, ...MEMORY_QUANTITIES, ...GPU_QUANTITIES];
const inputs = Array.from({ length: opts.quantities }, (_, i) => texts[i % texts.length]);
const timeParse = (parse) => {
  const started = process.hrtime.bigint();
  let sum = 0;
  for (const text of inputs) sum += parse(text);
  return { ns: Number(process.hrtime.bigint() - started) / inputs.length, sum };
};
const exactNs = [];
const naiveNs = [];
for (let round = 0; round < opts.rounds; round++) {
  const exact = timeParse((t) => quantityToNumber(parseQuantity(t)));
  const naive = timeParse(handwritten);
  if (Math.abs(exact.sum - naive.sum) > 1e-6 * Math.abs(naive.sum)) throw new Error(`the parsers disagree: ${exact.sum} vs ${naive.sum}`);
  exactNs.push(exact.ns);
  naiveNs.push(naive.ns);
  console.log(`quantities round ${round + 1}: parseQuantity ${fmt(exact.ns, 0)} ns/op, hand-written ${fmt(naive.ns, 0)} ns/op`);
}

// -- 2. one list ----------------------------------------------------------------------------------
const sim = await startKubernetesSimulator({ pods: opts.pods, compactEveryMs: 0 });
const client = new KubernetesClient({
  access: { server: sim.url, tls: { insecureSkipVerify: false }, credentials: { kind: 'token', token: sim.token }, identity: 'bench', source: 'bench' },
  timeoutMs: 60_000,
  pageSize: 500,
  logger: pino({ level: 'silent' }),
  metrics: new Metrics(),
  secrets: new Secrets(),
});
async function bareList() {
  const items = [];
  let token;
  let bytes = 0;
  do {
    const query = new URLSearchParams({ limit: '500', ...(token ? { continue: token } : {}) });
    const response = await request(`${sim.url}/api/v1/pods?${query}`, { headers: { authorization: `Bearer ${sim.token}` } });
    const text = await response.body.text();
    bytes += Buffer.byteLength(text);
    const page = JSON.parse(text);
    items.push(...page.items);
    token = page.metadata.continue;
  } while (token);
  return { items: items.length, bytes };
}
const clientMs = [];
const bareMs = [];
let listed;
for (let round = 0; round < opts.rounds; round++) {
  let started = performance.now();
  listed = await client.list('pod', {}, new AbortController().signal);
  clientMs.push(performance.now() - started);
  started = performance.now();
  const bare = await bareList();
  bareMs.push(performance.now() - started);
  if (bare.items !== listed.items.length) throw new Error(`lists differ: ${bare.items} vs ${listed.items.length}`);
  console.log(`list round ${round + 1}: client ${fmt(clientMs.at(-1))} ms, bare loop ${fmt(bareMs.at(-1))} ms (${listed.items.length} pods, ${listed.pages} pages, ${fmt(listed.bytes / 2 ** 20, 1)} MiB)`);
}
await client.close();
await sim.close();

console.log('\nmedians');
console.log(`quantity: parseQuantity ${fmt(median(exactNs), 0)} ns/op vs hand-written ${fmt(median(naiveNs), 0)} ns/op (${fmt(median(exactNs) / median(naiveNs), 2)}x)`);
console.log(
  `list of ${listed.items.length} pods in ${listed.pages} pages (${fmt(listed.bytes / 2 ** 20, 1)} MiB): client ${fmt(median(clientMs))} ms vs bare loop ${fmt(median(bareMs))} ms (${fmt(median(clientMs) / median(bareMs), 2)}x)`,
);
