// The shipped Run:ai mapping (mappings/runai-workload.jsonata), compiled to JavaScript vs the
// JSONata interpreter: µs per event and the ratio, median of several runs.
//
//   npm run build && node bench/mapping.mjs [--runs 7] [--events 5000]
//
// "evaluate" is one expression evaluation per event, as any component sees it; "processor" is
// the mapping processor on batches of 100 messages (the body mapping plus building each output
// message), as a pipeline runs it. Both modes are checked to give identical output first.
import { availableParallelism, cpus } from 'node:os';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import mapping from '../dist/components/processors/mapping.js';
import { Message } from '../dist/engine/message.js';
import { compileExpression } from '../dist/mapping/environment.js';
import { workload } from './lib/workload.mjs';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '7' }, events: { type: 'string', default: '5000' } } });
const RUNS = Number(values.runs);
const EVENTS = Number(values.events);
const SOURCE = readFileSync(new URL('../mappings/runai-workload.jsonata', import.meta.url), 'utf8');

// The Run:ai API's workload example (runai-and-openmeter-api.md), varied per event.
const WORKLOAD = workload('497f6eca-6276-4993-bfeb-53cbbbba6f08');
const META = { scrape_interval: '30s', resource_type: 'workload', metrics_time: '2025-01-01T12:00:30Z' };

const messages = Array.from({ length: EVENTS }, (_, i) => {
  const body = structuredClone(WORKLOAD);
  body.id = `${WORKLOAD.id.slice(0, 30)}${String(i).padStart(6, '0')}`;
  body.name = `job-${i}`;
  body.metrics.values.GPU_UTILIZATION = i % 101;
  body.metrics.values.CPU_USAGE_CORES = (i % 960) / 10;
  if (i % 3 === 0) delete body.metrics.values.GPU_ALLOCATION;
  return Message.fromJSON(body, { ...META, window_start: i % 2 === 0 ? '2025-01-01T12:00:00Z' : '' });
});

const compiled = compileExpression(SOURCE);
const interpreted = compileExpression(SOURCE, { compile: false });
if (!compiled.compiled) throw new Error(`the mapping does not compile: ${compiled.interpretedBecause}`);
for (const [index, message] of messages.entries()) {
  const context = { message, batch: messages, index };
  const a = JSON.stringify(compiled.evaluateSync(context));
  const b = JSON.stringify(await interpreted.evaluate(context));
  if (a !== b) throw new Error(`outputs differ for event ${index}:\n${a}\n${b}`);
}

const settings = { logger: pino({ level: 'silent' }), baseDir: process.cwd() };
const processors = {
  compiled: mapping.create({ expression: SOURCE, compile: true }, settings),
  interpreted: mapping.create({ expression: SOURCE, compile: false }, settings),
};
const batches = [];
for (let i = 0; i < messages.length; i += 100) batches.push(messages.slice(i, i + 100));

const modes = {
  'interpreted, evaluate()': async () => {
    for (let index = 0; index < messages.length; index++) await interpreted.evaluate({ message: messages[index], batch: messages, index });
  },
  'compiled, evaluate()': async () => {
    for (let index = 0; index < messages.length; index++) await compiled.evaluate({ message: messages[index], batch: messages, index });
  },
  'compiled, evaluateSync()': async () => {
    for (let index = 0; index < messages.length; index++) compiled.evaluateSync({ message: messages[index], batch: messages, index });
  },
  'interpreted, mapping processor': async () => {
    for (const batch of batches) await processors.interpreted.process(batch);
  },
  'compiled, mapping processor': async () => {
    for (const batch of batches) {
      const out = processors.compiled.process(batch);
      if (out instanceof Promise) throw new Error('a compiled batch went async');
    }
  },
};

const timings = Object.fromEntries(Object.keys(modes).map((name) => [name, []]));
for (let run = -1; run < RUNS; run++) {
  // Run -1 warms the JIT up; modes alternate so machine noise spreads over all of them.
  for (const [name, fn] of Object.entries(modes)) {
    const started = process.hrtime.bigint();
    await fn();
    const micros = Number(process.hrtime.bigint() - started) / 1e3 / messages.length;
    if (run >= 0) timings[name].push(micros);
  }
}

const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];
const result = Object.fromEntries(Object.entries(timings).map(([name, list]) => [name, median(list)]));
const cpu = cpus()[0]?.model ?? 'unknown CPU';
console.log(`Machine: ${availableParallelism()} CPUs (${cpu}), Node ${process.version}; ${EVENTS} events, median of ${RUNS} runs.\n`);
console.log('| mode | µs/event | events/s (one core) |');
console.log('|---|---:|---:|');
for (const [name, micros] of Object.entries(result)) console.log(`| ${name} | ${micros.toFixed(2)} | ${Math.round(1e6 / micros).toLocaleString('en-US')} |`);
const ratio = (a, b) => (result[a] / result[b]).toFixed(1);
console.log(`\nCompiled vs interpreted: ${ratio('interpreted, evaluate()', 'compiled, evaluateSync()')}× (evaluateSync), ${ratio('interpreted, evaluate()', 'compiled, evaluate()')}× (evaluate), ${ratio('interpreted, mapping processor', 'compiled, mapping processor')}× (mapping processor).`);
