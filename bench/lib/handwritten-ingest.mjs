// The baseline bench/ingest.mjs measures sluice's ingest proxy against: what one would write by
// hand in Node for the same job, with the same libraries. node:http server on POST /api/v1/events:
// the Content-Type switch (single event or batch), JSON.parse, ajv (draft-07) against
// examples/cloudevents.spec.json, a 400 problem+json in OpenMeter's words or a commit to SQLite
// (better-sqlite3, WAL, synchronous=NORMAL: a 204 survives a killed process) then 204. A forwarder
// sends the buffered events in batches of 100 (4 requests in flight) to OpenMeter and deletes them
// once accepted.
//
//   node bench/lib/handwritten-ingest.mjs <port> <openmeter base url> <buffer file>
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { Ajv } from 'ajv';
import Database from 'better-sqlite3';
import { Pool } from 'undici';

const [portArg, openmeterUrl, bufferFile] = process.argv.slice(2);
const MAX_BODY = 4 * 1024 * 1024;
const BATCH = 100;
const IN_FLIGHT = 4;

const schema = JSON.parse(readFileSync(new URL('../../examples/cloudevents.spec.json', import.meta.url), 'utf8'));
const validate = new Ajv({ strict: false, allErrors: false }).compile(schema);

const db = new Database(bufferFile);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.exec('CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL)');
const insert = db.prepare('INSERT INTO events (body) VALUES (?)');
const insertAll = db.transaction((bodies) => {
  for (const b of bodies) insert.run(b);
});
const select = db.prepare('SELECT id, body FROM events WHERE id > ? ORDER BY id LIMIT ?');
const remove = db.prepare('DELETE FROM events WHERE id >= ? AND id <= ?');

const problem = (res, detail) => {
  res.writeHead(400, { 'content-type': 'application/problem+json' }).end(JSON.stringify({ type: 'about:blank', title: 'Bad Request', status: 400, detail }));
};

const server = createServer((req, res) => {
  if (req.method !== 'POST' || req.url.split('?')[0] !== '/api/v1/events') return res.writeHead(404).end();
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size > MAX_BODY) {
      res.writeHead(413).end();
      req.destroy();
      return;
    }
    chunks.push(c);
  });
  req.on('end', () => {
    if (res.writableEnded) return;
    const type = String(req.headers['content-type'] ?? '').toLowerCase();
    let events;
    try {
      const value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      if (type === 'application/cloudevents-batch+json') {
        if (!Array.isArray(value)) return problem(res, 'invalid event: expected a JSON array');
        events = value;
      } else if (type === 'application/cloudevents+json') {
        events = [value];
      } else {
        return problem(res, `invalid content type: ${req.headers['content-type'] ?? ''}`);
      }
    } catch (err) {
      return problem(res, `request body has an error: failed to decode request body: ${err.message}`);
    }
    for (const event of events) {
      if (!validate(event)) return problem(res, `invalid event: ${validate.errors.map((e) => `${e.instancePath || '(root)'} ${e.message}`).join('; ')}`);
    }
    insertAll(events.map((e) => JSON.stringify(e)));
    wake?.();
    res.writeHead(204).end();
  });
});

// The forwarder: batches of 100, up to 4 in flight, retried until accepted.
const target = new URL(openmeterUrl);
const pool = new Pool(target.origin, { connections: IN_FLIGHT });
let wake;
let lastSent = 0;
let inFlight = 0;
async function send(rows) {
  const body = `[${rows.map((r) => r.body).join(',')}]`;
  for (let wait = 50; ; wait = Math.min(wait * 2, 2000)) {
    try {
      const response = await pool.request({ path: '/api/v1/events', method: 'POST', headers: { 'content-type': 'application/cloudevents-batch+json' }, body });
      await response.body.dump();
      if (response.statusCode < 300) break;
    } catch {
      // retried below
    }
    await new Promise((r) => setTimeout(r, wait));
  }
  remove.run(rows[0].id, rows[rows.length - 1].id);
}
(async () => {
  for (;;) {
    if (inFlight >= IN_FLIGHT) {
      await new Promise((r) => (wake = r));
      continue;
    }
    const rows = select.all(lastSent, BATCH);
    if (rows.length === 0) {
      await new Promise((r) => {
        wake = r;
        setTimeout(r, 100);
      });
      continue;
    }
    lastSent = rows[rows.length - 1].id;
    inFlight++;
    void send(rows).finally(() => {
      inFlight--;
      wake?.();
    });
  }
})();

server.listen(Number(portArg), '127.0.0.1', () => console.error(`listening on ${portArg}`));
process.on('SIGTERM', () => {
  server.close();
  db.close();
  process.exit(0);
});
