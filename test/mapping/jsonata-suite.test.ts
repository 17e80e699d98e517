// JSONata's official test suite (vendored under test/fixtures/jsonata-suite, see its README) run
// differentially: every evaluable case is compiled and, when it compiles, its compiled result must
// be exactly the interpreter's (value, or the interpreter's error and code: a compiled evaluation
// that throws is re-run by the interpreter, as src/mapping/environment.ts does). Prints the
// compile-coverage figure (compiled / evaluable) and the number of differences.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import jsonata from 'jsonata';
import { describe, expect, it } from 'vitest';
import { compileToJavaScript } from '../../src/mapping/compiler.js';

const SUITE = join(import.meta.dirname, '../fixtures/jsonata-suite');

interface Case {
  readonly expr: string;
  readonly dataset?: number | string | null;
  readonly data?: unknown;
  readonly bindings?: Record<string, unknown>;
  readonly result?: unknown;
  readonly undefinedResult?: boolean;
  readonly code?: string;
  readonly timelimit?: number;
  readonly depth?: number;
}

const datasets = JSON.parse(readFileSync(join(SUITE, 'datasets.json'), 'utf8')) as unknown[];
const groups = [
  ...readdirSync(join(SUITE, 'groups'))
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => ({ group: file.replace(/\.json$/, ''), cases: JSON.parse(readFileSync(join(SUITE, 'groups', file), 'utf8')) as Case[] })),
];
/** Expressions of ours over the suite's datasets (no expected values): tuple streams, which the vendored groups lack. */
const extra = { group: 'sluice-tuples', cases: JSON.parse(readFileSync(join(SUITE, 'tuples.json'), 'utf8')) as Case[] };

function inputOf(c: Case): unknown {
  if ('data' in c) return c.data;
  if (c.dataset === undefined || c.dataset === null || c.dataset === -1) return undefined;
  return datasets[Number(c.dataset)];
}

type Outcome = { ok: true; value: unknown } | { ok: false; code: string };

const isFunctionValue = (v: unknown) =>
  typeof v === 'function' || (typeof v === 'object' && v !== null && ((v as any)._jsonata_lambda === true || (v as any)._jsonata_function === true));

/** Deep equality as a consumer sees JSON; any two functions are alike (neither is data). */
function same(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (isFunctionValue(a) || isFunctionValue(b)) return isFunctionValue(a) && isFunctionValue(b);
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => same(item, b[i]));
  }
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const ak = Object.keys(a);
  const bk = Object.keys(b);
  if (ak.length !== bk.length || !ak.every((k) => Object.prototype.hasOwnProperty.call(b, k))) return false;
  return ak.every((k) => same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

const show = (value: unknown) => {
  try {
    return JSON.stringify(value, (_k, v: unknown) => (v === undefined ? '<undefined>' : isFunctionValue(v) ? '<function>' : v))?.slice(0, 300);
  } catch {
    return String(value);
  }
};

async function interpret(expression: jsonata.Expression, input: unknown, bindings: Record<string, unknown>): Promise<Outcome> {
  try {
    return { ok: true, value: await expression.evaluate(input, bindings) };
  } catch (err) {
    return { ok: false, code: (err as { code?: string }).code ?? String(err) };
  }
}

export interface SuiteReport {
  cases: number;
  evaluable: number;
  compiled: number;
  handedOver: number;
  /** Handed over although the interpreter succeeds: compiled, yet as slow as interpreted there. */
  handedOverNeedlessly: number;
  differences: string[];
  refusals: Map<string, number>;
  /** Interpreter results that differ from the suite's expectation (the vendored suite predates jsonata@2). */
  interpreterVersusSuite: number;
}

export async function runSuite(sets: readonly { group: string; cases: Case[] }[]): Promise<SuiteReport> {
  const report: SuiteReport = { cases: 0, evaluable: 0, compiled: 0, handedOver: 0, handedOverNeedlessly: 0, differences: [], refusals: new Map(), interpreterVersusSuite: 0 };
  for (const { group, cases } of sets) {
    for (const [index, c] of cases.entries()) {
      report.cases++;
      const where = `${group}#${index} ${c.expr}`;
      // The official runner bounds these cases' depth and time (as the interpreter's stack and
      // timeout options do, failing with D1011/D1012 where it says U1001).
      const limited = c.timelimit !== undefined && c.depth !== undefined;
      let expression: jsonata.Expression;
      try {
        expression = jsonata(c.expr, limited ? { stack: c.depth, timeout: c.timelimit } as jsonata.JsonataOptions : undefined);
      } catch {
        continue; // a syntax error: nothing to evaluate
      }
      report.evaluable++;
      const bindings = c.bindings ?? {};
      const input = inputOf(c);
      const expected = await interpret(expression, structuredClone(input), bindings);
      if (!expected.ok && limited && (expected.code === 'D1011' || expected.code === 'D1012')) expected.code = 'U1001';
      const suiteSays: Outcome | undefined =
        c.code !== undefined ? { ok: false, code: c.code } : c.undefinedResult ? { ok: true, value: undefined } : 'result' in c ? { ok: true, value: c.result } : undefined;
      if (suiteSays !== undefined && (suiteSays.ok !== expected.ok || (suiteSays.ok ? !same(suiteSays.value, (expected as { value: unknown }).value) : suiteSays.code !== (expected as { code: string }).code))) {
        report.interpreterVersusSuite++;
        if (process.env.SUITE_DEBUG) console.log("SUITE", where, JSON.stringify(suiteSays), JSON.stringify(expected));
      }
      // sluice sets no such limits; compiled code does not mirror them, so these cases are not compiled.
      const compilation = limited ? { ok: false as const, reason: 'evaluation limits (the interpreter’s stack and timeout options)' } : compileToJavaScript(expression.ast());
      if (!compilation.ok) {
        report.refusals.set(compilation.reason, (report.refusals.get(compilation.reason) ?? 0) + 1);
        continue;
      }
      report.compiled++;
      let actual: Outcome;
      try {
        actual = { ok: true, value: compilation.evaluate(structuredClone(input), bindings) };
      } catch {
        // Handed over: the interpreter evaluates the same input, so the user sees `expected`.
        report.handedOver++;
        if (expected.ok) report.handedOverNeedlessly++;
        continue;
      }
      if (!expected.ok) report.differences.push(`${where}: the interpreter fails with ${expected.code}, compiled gives ${show(actual.value)}`);
      else if (!same(actual.value, expected.value)) report.differences.push(`${where}: compiled ${show(actual.value)}, interpreted ${show(expected.value)}`);
    }
  }
  return report;
}

describe('JSONata’s official test suite, compiled', () => {
  it('compiles the evaluable cases and gives the interpreter’s results on every one', { timeout: 120_000 }, async () => {
    const report = await runSuite(groups);
    const ours = await runSuite([extra]);
    const coverage = (100 * report.compiled) / report.evaluable;
    const reasons = [...report.refusals].sort((a, b) => b[1] - a[1]).map(([reason, n]) => `  ${n} × ${reason}`);
    console.log(
      [
        `JSONata suite: ${report.cases} cases in ${groups.length} groups, ${report.evaluable} evaluable; ` +
          `compiled ${report.compiled}/${report.evaluable} = ${coverage.toFixed(1)}%; differences from the interpreter: ${report.differences.length}; ` +
          `handed over at run time: ${report.handedOver} (${report.handedOverNeedlessly} where the interpreter succeeds); interpreter vs the suite's expectations: ${report.interpreterVersusSuite} differ`,
        `sluice's tuple expressions: compiled ${ours.compiled}/${ours.evaluable}; differences from the interpreter: ${ours.differences.length}`,
        ...(reasons.length > 0 ? ['still interpreted:', ...reasons] : []),
        ...[...report.differences, ...ours.differences].map((d) => `DIFFERENCE ${d}`),
      ].join('\n'),
    );
    expect([...report.differences, ...ours.differences]).toEqual([]);
    expect(report.handedOverNeedlessly).toBe(0);
    expect(coverage).toBeGreaterThanOrEqual(97);
  });
});
