// Compiled vs interpreted on single expressions that used to be slow or uncompiled:
// medians of 5 runs each, in one process. Usage: npm run build && node bench/compiler-cases.mjs
import jsonata from 'jsonata';
import { compileToJavaScript } from '../dist/mapping/compiler.js';

const CASES = [
  ['[1..10000000]', {}],
  ['$count([1..10000000])', {}],
  ['$sum([1..1000000].($ * 2))', {}],
  ['$sort([1..20000].(($ * 7919) % 10007))[0]', {}],
  ['[1..20000]^(>$)[0]', {}],
  ['$join($map([1..100000], $string), ",") ~> $length()', {}],
  ['($f := function($n, $acc) { $n = 0 ? $acc : $f($n - 1, $acc + $n) }; $f(10000, 0))', {}],
  ['$count($split($join([1..100000].("a" & $), " "), /a\\d+/))', {}],
  ['**.x ~> $count()', { a: Array.from({ length: 20000 }, (_, i) => ({ x: i, b: { x: i } })) }],
];
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = [];
for (const [source, input] of CASES) {
  const expression = jsonata(source);
  const compilation = compileToJavaScript(expression.ast());
  if (!compilation.ok) throw new Error(`${source}: not compiled (${compilation.reason})`);
  const interpreted = [];
  const compiled = [];
  for (let i = 0; i < 5; i++) {
    let t = performance.now();
    const expected = await expression.evaluate(input);
    interpreted.push(performance.now() - t);
    t = performance.now();
    const actual = compilation.evaluate(input, {});
    compiled.push(performance.now() - t);
    if (JSON.stringify(actual) !== JSON.stringify(expected)) throw new Error(`${source}: results differ`);
  }
  const [mi, mc] = [median(interpreted), median(compiled)];
  console.error(source, mi.toFixed(1), mc.toFixed(1));
  rows.push(`| \`${source.replaceAll('|', '\\|')}\` | ${mi.toFixed(1)} | ${mc.toFixed(1)} | ${(mi / mc).toFixed(1)}× |`);
}
console.log('| expression | interpreter ms | compiled ms | speed-up |\n|---|---|---|---|\n' + rows.join('\n'));
