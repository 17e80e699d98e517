// The hand-written baseline of bench/stdin.mjs: what twenty lines of Node do for the job. JSON
// lines on stdin -> JSON.parse -> the mapping written in JavaScript (or none) -> batches of 100 ->
// JSON array -> undici Pool, 4 requests in flight.
//
//   node bench/lib/handwritten-stdin.mjs <url> <identity|runai|realistic>
import { createInterface } from 'node:readline';
import { Pool } from 'undici';
import { realisticEvent, runaiEvent } from './mappings.mjs';
import { METADATA } from './workload.mjs';

const [url, which] = process.argv.slice(2);
const MAPPINGS = { identity: (doc) => doc, runai: (doc) => runaiEvent(doc, METADATA), realistic: realisticEvent };
const map = MAPPINGS[which];
const BATCH = 100;
const IN_FLIGHT = 4;

const target = new URL(url);
const pool = new Pool(target.origin, { connections: IN_FLIGHT });
let inFlight = 0;
let slot;
let failed = 0;
async function send(batch) {
  while (inFlight >= IN_FLIGHT) await new Promise((resolve) => (slot = resolve));
  inFlight++;
  pool
    .request({ method: 'POST', path: target.pathname, headers: { 'content-type': 'application/json' }, body: JSON.stringify(batch) })
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
for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  if (line === '') continue;
  batch.push(map(JSON.parse(line)));
  if (batch.length === BATCH) {
    await send(batch);
    batch = [];
  }
}
if (batch.length > 0) await send(batch);
while (inFlight > 0) await new Promise((resolve) => (slot = resolve));
await pool.close();
if (failed > 0) {
  process.stderr.write(`${failed} requests failed\n`);
  process.exit(1);
}
