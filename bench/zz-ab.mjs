import { readFileSync } from 'node:fs';
import { Message } from '../dist/engine/message.js';
import * as after from '../dist/mapping/environment.js';
import * as before from '/tmp/before/dist/mapping/environment.js';
import { workload } from './lib/workload.mjs';
const SOURCE = readFileSync(new URL('../mappings/runai-workload.jsonata', import.meta.url), 'utf8');
const W = workload('497f6eca-6276-4993-bfeb-53cbbbba6f08');
const META = { scrape_interval: '30s', resource_type: 'workload', metrics_time: '2025-01-01T12:00:30Z' };
const msgs = Array.from({ length: 3000 }, (_, i) => { const b = structuredClone(W); b.name = `job-${i}`; return Message.fromJSON(b, { ...META, window_start: "2025-01-01T12:00:00Z" }); });
const ctxs = msgs.map((m, i) => ({ message: m, batch: msgs, index: i }));
const A = after.compileExpression(SOURCE), B = before.compileExpression(SOURCE);
console.log('compiled', A.compiled, B.compiled);
const run = (x) => { const t = performance.now(); for (const c of ctxs) x.evaluateSync(c); return (performance.now() - t) * 1000 / ctxs.length; };
const ra = [], rb = [];
for (let i = 0; i < 15; i++) { rb.push(run(B)); ra.push(run(A)); }
const med = (x) => x.sort((a, b) => a - b)[7];
console.log('before µs/event', med(rb).toFixed(2), 'after', med(ra).toFixed(2));
