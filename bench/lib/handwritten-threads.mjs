// The hand-written baseline of bench/threads.mjs: JSON lines on stdin -> the jsonata interpreter
// on one thread -> discarded, counting what came out.
//
//   node bench/lib/handwritten-threads.mjs <mapping.jsonata>
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import jsonata from 'jsonata';
import { parseDuration, uuidV5 } from './mappings.mjs';

const expression = jsonata(readFileSync(process.argv[2], 'utf8'));
expression.registerFunction('uuid_v5', (n) => uuidV5(n), '<ss?:s>');
expression.registerFunction('parse_duration', parseDuration, '<s:n>');
let out = 0;
for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  if (line === '') continue;
  if ((await expression.evaluate(JSON.parse(line))) !== undefined) out++;
}
if (out === 0) throw new Error('the mapping produced nothing');
