// The baseline the pipeline benchmark measures sluice against: what one would write by hand in
// Node for the same job. A lazy generator of Run:ai workload documents -> the JSONata mapping
// (jsonata@2, the same library and expression sluice runs; or no mapping) -> batches of 100 ->
// JSON array -> undici Pool, 4 requests in flight.
//
//   node bench/lib/handwritten.mjs <url> <events> <mapping.jsonata | none>
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import jsonata from 'jsonata';
import { Pool } from 'undici';
import { METADATA, workload } from './workload.mjs';

const [url, eventsArg, mappingFile] = process.argv.slice(2);
const total = Number(eventsArg);
const BATCH = 100;
const IN_FLIGHT = 4;

function* documents(n) {
  for (let i = 0; i < n; i++) yield workload();
}

// The functions the shipped mapping calls, as a hand-written program would provide them.
function uuidV5(name) {
  const hash = createHash('sha1').update(Buffer.from('6ba7b8119dad11d180b400c04fd430c8', 'hex')).update(name).digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const h = hash.subarray(0, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
const UNITS = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
function parseDuration(text) {
  let ns = 0;
  for (const [, n, unit] of text.matchAll(/([\d.]+)(ns|us|µs|ms|s|m|h)/g)) ns += Number(n) * UNITS[unit];
  return ns;
}

let transform = (doc) => doc;
if (mappingFile !== 'none') {
  const expression = jsonata(readFileSync(mappingFile, 'utf8'));
  expression.registerFunction('meta', (key) => METADATA[key] ?? null, '<s:s>');
  expression.registerFunction('uuid_v5', (name) => uuidV5(name), '<ss?:s>');
  expression.registerFunction('parse_duration', parseDuration, '<s:n>');
  transform = (doc) => expression.evaluate(doc);
}

const target = new URL(url);
const pool = new Pool(target.origin, { connections: IN_FLIGHT });
let inFlight = 0;
let slot;
let failed = 0;
async function send(batch) {
  while (inFlight >= IN_FLIGHT) await new Promise((resolve) => (slot = resolve));
  inFlight++;
  const body = JSON.stringify(batch);
  pool
    .request({ method: 'POST', path: target.pathname, headers: { 'content-type': 'application/json' }, body })
    .then(async (res) => {
      await res.body.dump();
      if (res.statusCode >= 300) failed++;
    })
    .catch(() => failed++)
    .finally(() => {
      inFlight--;
      slot?.();
    });
}

let batch = [];
for (const doc of documents(total)) {
  batch.push(await transform(doc));
  if (batch.length === BATCH) {
    await send(batch);
    batch = [];
  }
}
if (batch.length > 0) await send(batch);
while (inFlight > 0) await new Promise((resolve) => (slot = resolve));
await pool.close();
if (failed > 0) console.error(`${failed} request(s) failed`);
process.exitCode = failed > 0 ? 1 : 0;
