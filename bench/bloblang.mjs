// Bloblang vs JSONata, both compiled to JavaScript: OpenMeter's Run:ai doc mapping
// (bench/mappings/runai-doc.blobl, the seed document's with its three fixes) against its JSONata
// twin (bench/mappings/runai-doc.jsonata), and OpenMeter's Kubernetes preset mapping (verbatim)
// against examples/openmeter-kubernetes-pod-exec-time.yaml's JSONata. µs per event, median of runs.
//
//   npm run build && node bench/bloblang.mjs [--runs 7] [--events 5000]
//
// "evaluate" is one evaluation per event; "processor" is the mapping processor on batches of 100
// (the mapping plus building each output message). Both languages are first checked to give the
// same events (ids aside: uuid_v4 in both Run:ai twins, v4 vs v5 in the Kubernetes ones).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { parse } from 'yaml';
import mapping from '../dist/components/processors/mapping.js';
import { Message } from '../dist/engine/message.js';
import { compileExpression } from '../dist/mapping/environment.js';
import { compileBloblangMappingExpression } from '../dist/mapping/language.js';
import { workload } from './lib/workload.mjs';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '7' }, events: { type: 'string', default: '5000' } } });
const RUNS = Number(values.runs);
const EVENTS = Number(values.events);
const read = (path) => readFileSync(new URL(path, import.meta.url), 'utf8');

const runaiMessages = Array.from({ length: EVENTS }, (_, i) => {
  const body = workload(`497f6eca-6276-4993-bfeb-${String(i).padStart(12, '0')}`);
  body.name = `job-${i}`;
  body.allocatedResources.gpu = (i % 8) / 2;
  if (i % 3 === 0) delete body.metrics.values.CPU_LIMIT_CORES;
  return Message.fromJSON(body, { scrape_interval: '30s', resource_type: 'workload', window_start: '2025-01-01T11:59:30Z' });
});

const QUANTITIES = ['100m', '250m', '1', '2', '512Mi', '1Gi', '2Gi'];
const podMessages = Array.from({ length: EVENTS }, (_, i) => {
  const containers = Array.from({ length: 1 + (i % 3) }, (_, c) => ({
    name: `c${c}`,
    resources: {
      requests: { cpu: QUANTITIES[(i + c) % 4], memory: QUANTITIES[4 + ((i + c) % 3)] },
      limits: i % 2 === 0 ? { cpu: '2', memory: '2Gi', 'nvidia.com/gpu': '1' } : {},
    },
  }));
  const body = {
    metadata: { name: `pod-${i}`, namespace: 'default', uid: `uid-${i}`, annotations: { 'openmeter.io/subject': `customer-${i % 50}`, 'data.openmeter.io/plan': 'pro', other: 'x' } },
    spec: { containers },
  };
  return Message.fromJSON(body, { schedule_interval: '15s', schedule_time: '2025-01-01T00:00:15Z' });
});

const kubernetesJsonata = parse(read('../examples/openmeter-kubernetes-pod-exec-time.yaml')).pipeline.processors[0].mapping;
const SCENARIOS = {
  'Run:ai doc mapping': { bloblang: read('./mappings/runai-doc.blobl'), jsonata: read('./mappings/runai-doc.jsonata'), messages: runaiMessages },
  'Kubernetes preset mapping': { bloblang: read('../test/fixtures/bloblang/kubernetes-pod-exec-time.blobl'), jsonata: kubernetesJsonata, messages: podMessages },
};

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const withoutId = (v) => JSON.stringify({ ...v, id: undefined });
const settings = { logger: pino({ level: 'silent' }), baseDir: process.cwd(), note: () => {} };

console.log(`node ${process.version}, ${EVENTS} events, median of ${RUNS} runs`);
for (const [name, scenario] of Object.entries(SCENARIOS)) {
  const { messages } = scenario;
  const blob = compileBloblangMappingExpression(scenario.bloblang);
  const jsn = compileExpression(scenario.jsonata);
  if (!jsn.compiled) throw new Error(`${name}: the JSONata twin does not compile: ${jsn.interpretedBecause}`);
  for (const [index, message] of messages.entries()) {
    const context = { message, batch: messages, index };
    const a = withoutId(blob.evaluateSync(context));
    const b = withoutId(jsn.evaluateSync(context));
    if (a !== b) throw new Error(`${name}: outputs differ for event ${index}:\n${a}\n${b}`);
  }
  const processors = {
    bloblang: mapping.create({ expression: scenario.bloblang, lang: 'bloblang' }, settings),
    jsonata: mapping.create({ expression: scenario.jsonata, lang: 'jsonata' }, settings),
  };
  const batches = [];
  for (let i = 0; i < messages.length; i += 100) batches.push(messages.slice(i, i + 100));
  const modes = {
    'JSONata compiled, evaluateSync()': () => {
      for (let index = 0; index < messages.length; index++) jsn.evaluateSync({ message: messages[index], batch: messages, index });
    },
    'Bloblang compiled, evaluateSync()': () => {
      for (let index = 0; index < messages.length; index++) blob.evaluateSync({ message: messages[index], batch: messages, index });
    },
    'JSONata, mapping processor': async () => {
      for (const batch of batches) await processors.jsonata.process(batch);
    },
    'Bloblang, mapping processor': async () => {
      for (const batch of batches) await processors.bloblang.process(batch);
    },
  };
  const times = Object.fromEntries(Object.keys(modes).map((m) => [m, []]));
  for (let run = 0; run < RUNS + 1; run++) {
    for (const [mode, fn] of Object.entries(modes)) {
      const start = process.hrtime.bigint();
      await fn();
      const us = Number(process.hrtime.bigint() - start) / 1000 / EVENTS;
      if (run > 0) times[mode].push(us); // the first round warms up
    }
  }
  console.log(`\n${name}`);
  console.log('| mode | µs/event | events/s (one core) |\n|---|---:|---:|');
  for (const [mode, ts] of Object.entries(times)) console.log(`| ${mode} | ${median(ts).toFixed(2)} | ${Math.round(1e6 / median(ts)).toLocaleString('en')} |`);
  const ratio = median(times['JSONata compiled, evaluateSync()']) / median(times['Bloblang compiled, evaluateSync()']);
  const ratioProcessor = median(times['JSONata, mapping processor']) / median(times['Bloblang, mapping processor']);
  console.log(`Bloblang speed / JSONata speed: ${ratio.toFixed(2)}× (evaluateSync), ${ratioProcessor.toFixed(2)}× (processor)`);
}
