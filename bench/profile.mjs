#!/usr/bin/env node
// Summarises a V8 CPU profile (`node --cpu-prof`): the top frames by self time, and self time
// grouped by source file, so a benchmark's README entry can say where the time goes.
//
//   node bench/profile.mjs <file.cpuprofile> [--top 25]
import { readFileSync } from 'node:fs';

const [file, , topArg] = process.argv.slice(2);
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
const total = profile.samples.length;
for (const id of profile.samples) self.set(id, (self.get(id) ?? 0) + 1);

const short = (url) => url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, '').replace(/^.*\/(dist|bench)\//, '$1/');
const frames = new Map();
const files = new Map();
for (const [id, count] of self) {
  const { callFrame } = byId.get(id);
  const where = callFrame.url ? `${short(callFrame.url)}:${callFrame.lineNumber + 1}` : '';
  const key = `${callFrame.functionName || '(anonymous)'} ${where}`.trim();
  frames.set(key, (frames.get(key) ?? 0) + count);
  const group = callFrame.url ? short(callFrame.url) : callFrame.functionName || '(native)';
  files.set(group, (files.get(group) ?? 0) + count);
}
// Inclusive time: each sample counts once for every distinct frame on its stack.
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const inclusive = new Map();
const frameKey = (callFrame) => {
  const where = callFrame.url ? `${short(callFrame.url)}:${callFrame.lineNumber + 1}` : '';
  return `${callFrame.functionName || '(anonymous)'} ${where}`.trim();
};
for (const [id, count] of self) {
  const seen = new Set();
  for (let at = id; at !== undefined; at = parent.get(at)) seen.add(frameKey(byId.get(at).callFrame));
  for (const key of seen) inclusive.set(key, (inclusive.get(key) ?? 0) + count);
}
const pct = (n) => `${((n / total) * 100).toFixed(1).padStart(5)}%`;
console.log(`${file}: ${total} samples`);
console.log('\ntop frames by self time:');
for (const [key, n] of [...frames].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(n)}  ${key}`);
console.log('\ntop frames of sluice (dist/) by inclusive time:');
for (const [key, n] of [...inclusive].filter(([k]) => k.includes('dist/')).sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(n)}  ${key}`);
console.log('\nself time by file:');
for (const [key, n] of [...files].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(n)}  ${key}`);
