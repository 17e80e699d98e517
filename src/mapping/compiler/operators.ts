// Operators, as the interpreter evaluates them.
import { type Seq, handOver, isNumeric } from './runtime.js';

export function arithmetic(op: string, lhs: unknown, rhs: unknown): unknown {
  if (lhs !== undefined && !isNumeric(lhs)) return handOver();
  if (rhs !== undefined && !isNumeric(rhs)) return handOver();
  if (lhs === undefined || rhs === undefined) return undefined;
  const l = lhs as number;
  const r = rhs as number;
  switch (op) {
    case '+':
      return l + r;
    case '-':
      return l - r;
    case '*':
      return l * r;
    case '/':
      return l / r;
    default:
      return l % r;
  }
}

export function compare(op: string, lhs: unknown, rhs: unknown): unknown {
  const ltype = typeof lhs;
  const rtype = typeof rhs;
  const lcomparable = ltype === 'undefined' || ltype === 'string' || ltype === 'number';
  const rcomparable = rtype === 'undefined' || rtype === 'string' || rtype === 'number';
  if (!lcomparable || !rcomparable) return handOver();
  if (ltype === 'undefined' || rtype === 'undefined') return undefined;
  if (ltype !== rtype) return handOver();
  const l = lhs as string | number;
  const r = rhs as string | number;
  switch (op) {
    case '<':
      return l < r;
    case '<=':
      return l <= r;
    case '>':
      return l > r;
    default:
      return l >= r;
  }
}

export function includes(lhs: unknown, rhs: unknown): boolean {
  if (lhs === undefined || rhs === undefined) return false;
  const list = Array.isArray(rhs) ? rhs : [rhs];
  for (let i = 0; i < list.length; i++) if (list[i] === lhs) return true;
  return false;
}

/** evaluateRangeExpression(); `plain`: a plain array for an array constructor to keep (no sequence flag). */
export function range(lhs: unknown, rhs: unknown, plain = false): unknown {
  if (lhs !== undefined && !Number.isInteger(lhs)) return handOver();
  if (rhs !== undefined && !Number.isInteger(rhs)) return handOver();
  if (lhs === undefined || rhs === undefined) return undefined;
  const l = lhs as number;
  const r = rhs as number;
  if (l > r) return undefined;
  const size = r - l + 1;
  if (size > 1e7) return handOver();
  const result: Seq = new Array<unknown>(size);
  for (let item = l, index = 0; item <= r; item++, index++) result[index] = item;
  if (!plain) result.sequence = true;
  return result;
}
