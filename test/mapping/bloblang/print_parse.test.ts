// Printing a random expression tree with only the parentheses Connect's precedence requires, then
// parsing it, gives the same tree back: precedence levels and left associativity as Connect's.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Args, BinaryOp, Expr } from '../../../src/mapping/bloblang/ast.js';
import { parseQuery } from '../../../src/mapping/bloblang/parser.js';

const LEVEL: Record<BinaryOp, number> = {
  '*': 0, '/': 0, '%': 0, '|': 0,
  '+': 1, '-': 1,
  '==': 2, '!=': 2, '<': 2, '<=': 2, '>': 2, '>=': 2,
  '&&': 3, '||': 3,
};

function print(e: Expr): string {
  switch (e.kind) {
    case 'literal':
      return JSON.stringify(e.value);
    case 'get':
      return `this.${e.path.join('.')}`;
    case 'var':
      return `$${e.name}`;
    case 'method':
      return `${printTerm(e.target)}.${e.name}()`;
    case 'not':
      return `!${printTerm(e.operand)}`;
    case 'binary': {
      const level = LEVEL[e.op];
      const left = e.left.kind === 'binary' && LEVEL[e.left.op] > level ? `(${print(e.left)})` : print(e.left);
      const right = e.right.kind === 'binary' && LEVEL[e.right.op] >= level ? `(${print(e.right)})` : print(e.right);
      return `${left} ${e.op} ${right}`;
    }
    default:
      throw new Error(`not generated: ${e.kind}`);
  }
}

/** A term as the target of a method or `!`: binary and `!` expressions need parentheses there. */
const printTerm = (e: Expr) => (e.kind === 'binary' || e.kind === 'not' ? `(${print(e)})` : print(e));

/** The tree without source positions (and the parser's float flag), for comparison. */
function shape(e: unknown): unknown {
  if (Array.isArray(e)) return e.map(shape);
  if (e === null || typeof e !== 'object') return e;
  return Object.fromEntries(Object.entries(e).filter(([k]) => k !== 'at' && k !== 'float').map(([k, v]) => [k, shape(v)]));
}

const leaf: fc.Arbitrary<Expr> = fc.oneof(
  fc.nat({ max: 99 }).map((value) => ({ kind: 'literal', value, at: 0 }) as Expr),
  fc.constantFrom('a', 'b c', '').map((value) => ({ kind: 'literal', value, at: 0 }) as Expr),
  fc.boolean().map((value) => ({ kind: 'literal', value, at: 0 }) as Expr),
  fc.array(fc.constantFrom('x', 'y', 'z'), { minLength: 1, maxLength: 3 }).map((path) => ({ kind: 'get', target: { kind: 'this', at: 0 }, path, at: 0 }) as Expr),
  fc.constantFrom('v', 'w').map((name) => ({ kind: 'var', name, at: 0 }) as Expr),
);

const tree: fc.Arbitrary<Expr> = fc.letrec<{ e: Expr }>((tie) => ({
  e: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.record({ kind: fc.constant('binary' as const), op: fc.constantFrom(...(Object.keys(LEVEL) as BinaryOp[])), left: tie('e'), right: tie('e'), at: fc.constant(0) }),
    fc.record({ kind: fc.constant('not' as const), operand: tie('e'), at: fc.constant(0) }),
    fc.record({ kind: fc.constant('method' as const), target: tie('e'), name: fc.constantFrom('uppercase', 'string', 'length'), args: fc.constant<Args>({ positional: [], named: {} }), at: fc.constant(0) }),
  ),
})).e;

describe('printing and parsing', () => {
  it('parse(print(tree)) is the tree, with minimal parentheses', () => {
    fc.assert(
      fc.property(tree, (e) => {
        expect(shape(parseQuery(print(e)))).toEqual(shape(e));
      }),
      { numRuns: 500 },
    );
  });

  it('reads && and || at one level, left to right, as Connect does', () => {
    const e = parseQuery('a || b && c') as Extract<Expr, { kind: 'binary' }>;
    expect([e.op, (e.left as Extract<Expr, { kind: 'binary' }>).op]).toEqual(['&&', '||']);
  });
});
