// Per case of the vendored JSONata suite (test/fixtures/jsonata-suite): the compiled expression
// vs the interpreter, each evaluated RUNS times in turn; a compiled evaluation that throws is
// re-run by the interpreter, as sluice does, and that time counts. Reports the cases where the
// compiled form is slower. Usage: npm run build && node bench/jsonata-suite.mjs [--runs 200]
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import jsonata from 'jsonata';
import { compileToJavaScript } from '../dist/mapping/compiler.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '200' } } });
const RUNS = Number(values.runs);
const SUITE = new URL('../test/fixtures/jsonata-suite/', import.meta.url);
const datasets = JSON.parse(readFileSync(new URL('datasets.json', SUITE), 'utf8'));
const groups = readdirSync(new URL('groups/', SUITE)).filter((f) => f.endsWith('.json')).sort();

let measured = 0;
const slower = [];
let interpretedTotal = 0;
let compiledTotal = 0;
for (const file of groups) {
  for (const c of JSON.parse(readFileSync(new URL(`groups/${file}`, SUITE), 'utf8'))) {
    if (c.timelimit !== undefined) continue;
    let expression;
    try {
      expression = jsonata(c.expr);
    } catch {
      continue;
    }
    const compilation = compileToJavaScript(expression.ast());
    if (!compilation.ok) continue;
    const input = 'data' in c ? c.data : c.dataset === -1 || c.dataset === undefined ? undefined : datasets[c.dataset];
    const bindings = c.bindings ?? {};
    const interpret = () => expression.evaluate(input, bindings).catch(() => undefined);
    const compiled = () => {
      try {
        return compilation.evaluate(input, bindings);
      } catch {
        return interpret();
      }
    };
    const time = async (fn) => {
      const start = performance.now();
      for (let i = 0; i < RUNS; i++) await fn();
      return performance.now() - start;
    };
    await time(interpret);
    await time(compiled);
    const ti = Math.min(await time(interpret), await time(interpret));
    const tc = Math.min(await time(compiled), await time(compiled));
    measured++;
    interpretedTotal += ti;
    compiledTotal += tc;
    if (tc > ti) slower.push(`${file} ${c.expr.trim().slice(0, 80)}: compiled ${((1000 * tc) / RUNS).toFixed(1)} µs, interpreted ${((1000 * ti) / RUNS).toFixed(1)} µs`);
  }
}
console.log(`${measured} compiled cases, ${RUNS} evaluations each (best of 2): compiled slower on ${slower.length}; total ${compiledTotal.toFixed(0)} ms compiled vs ${interpretedTotal.toFixed(0)} ms interpreted`);
for (const line of slower) console.log(`  ${line}`);
