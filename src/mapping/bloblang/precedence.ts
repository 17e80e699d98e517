// Connect's operator precedence (internal/bloblang/query/arithmetic.go resolves in four passes):
//   1. * / % and | (coalesce)     2. + -     3. == != < <= > >=     4. && ||
// each pass left to right, so `a || b && c` is `(a || b) && c`, as in Connect.
import type { BinaryOp, Expr } from './ast.js';

const LEVELS: readonly (readonly string[])[] = [['*', '/', '%', '|'], ['+', '-'], ['==', '!=', '<', '<=', '>', '>='], ['&&', '||']];
const LEVEL_OF = new Map<string, number>(LEVELS.flatMap((ops, level) => ops.map((op) => [op, level] as const)));

/** Whether `text` (a punctuation token) is a binary operator. */
export function isBinaryOperator(text: string): boolean {
  return LEVEL_OF.has(text);
}

/**
 * The tree of `operands[0] ops[0] operands[1] ops[1] ...` (one more operand than operators, each
 * operator with its offset): each level folds left to right over what the tighter levels left.
 */
export function resolvePrecedence(operands: readonly Expr[], ops: readonly { op: string; at: number }[]): Expr {
  let values = operands;
  let pending = ops;
  for (let level = 0; level < LEVELS.length && pending.length > 0; level++) {
    const nextValues: Expr[] = [values[0]!];
    const nextOps: { op: string; at: number }[] = [];
    pending.forEach((o, k) => {
      if (LEVEL_OF.get(o.op) === level) {
        const left = nextValues.pop()!;
        nextValues.push({ kind: 'binary', op: o.op as BinaryOp, left, right: values[k + 1]!, at: o.at });
      } else {
        nextValues.push(values[k + 1]!);
        nextOps.push(o);
      }
    });
    values = nextValues;
    pending = nextOps;
  }
  return values[0]!;
}
