// Per case of the vendored JSONata suite (test/fixtures/jsonata-suite): the compiled expression
// vs the interpreter, each evaluated RUNS times in turn; a compiled evaluation that throws is
// re-run by the interpreter, and compiled evaluations are skipped after a streak of those
// (FallbackGate), as sluice does, and that time counts. The gate lives as long as the case (as it
// lives as long as a mapping in sluice), warm-up included, so the figures are the steady state.
// Reports the cases where the compiled form is more than --tolerance slower (10% by default), and,
// as a control for timing noise, how many cases the interpreter measures that much slower than
// itself in the same comparison.
// Usage: npm run build && node bench/jsonata-suite.mjs [--runs 200] [--tolerance 0.1]
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import jsonata from 'jsonata';
import { compileToJavaScript, FallbackGate } from '../dist/mapping/compiler.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '200' }, tolerance: { type: 'string', default: '0.1' } } });
const RUNS = Number(values.runs);
const SLOWER = 1 + Number(values.tolerance);
const SUITE = new URL('../test/fixtures/jsonata-suite/', import.meta.url);
const datasets = JSON.parse(readFileSync(new URL('datasets.json', SUITE), 'utf8'));
const groups = readdirSync(new URL('groups/', SUITE)).filter((f) => f.endsWith('.json')).sort();

let measured = 0;
let controlSlower = 0;
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
    const gate = new FallbackGate();
    const compiled = () => {
      if (!gate.tryCompiled()) return interpret();
      try {
        const result = compilation.evaluate(input, bindings);
        gate.succeeded();
        return result;
      } catch {
        gate.handedOver();
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
    let ti = Math.min(await time(interpret), await time(interpret));
    let tc = Math.min(await time(compiled), await time(compiled));
    // A case that looks slower is timed again (a collection or a recompilation can land in one
    // timing): best of 5 each.
    for (let again = 0; again < 3 && tc > ti * SLOWER; again++) {
      ti = Math.min(ti, await time(interpret));
      tc = Math.min(tc, await time(compiled));
    }
    // The control: the interpreter against itself, timed the same way.
    let tAgain = Math.min(await time(interpret), await time(interpret));
    for (let again = 0; again < 3 && tAgain > ti * SLOWER; again++) tAgain = Math.min(tAgain, await time(interpret));
    if (tAgain > ti * SLOWER) controlSlower++;
    measured++;
    interpretedTotal += ti;
    compiledTotal += tc;
    if (tc > ti * SLOWER) slower.push(`${file} ${c.expr.trim().slice(0, 80)}: compiled ${((1000 * tc) / RUNS).toFixed(1)} µs, interpreted ${((1000 * ti) / RUNS).toFixed(1)} µs`);
  }
}
console.log(
  `${measured} compiled cases, ${RUNS} evaluations each (best of 2, of 5 where compiled looks slower): compiled more than ${values.tolerance * 100}% slower on ${slower.length}; total ${compiledTotal.toFixed(0)} ms compiled vs ${interpretedTotal.toFixed(0)} ms interpreted\n` +
    `control: the interpreter measured that much slower than itself on ${controlSlower} of ${measured} cases`,
);
for (const line of slower) console.log(`  ${line}`);
