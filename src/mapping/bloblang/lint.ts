// Warnings for mappings that run but do not do what they say: what `sluice lint` adds to Connect's
// semantics (the mapping still runs exactly as Connect runs it).
//   - a bare name that is also a `let` variable: `gpu_allocation_minutes` reads
//     this.gpu_allocation_minutes (null), not $gpu_allocation_minutes;
//   - a `let` variable that is never read.
import type { Args, Expr, Program, Statement } from './ast.js';
import { position } from './lexer.js';

export interface LintWarning {
  readonly message: string;
  readonly line: number;
  readonly column: number;
}

export function lintMapping(source: string, program: Program): LintWarning[] {
  const warnings: { message: string; at: number }[] = [];
  const lets = new Map<string, number>();
  const read = new Set<string>();
  const misread = new Set<string>();

  const visitArgs = (args: Args, captures: ReadonlySet<string>) => {
    for (const a of args.positional) visit(a, captures);
    for (const a of Object.values(args.named)) visit(a, captures);
  };
  const visit = (e: Expr, captures: ReadonlySet<string>): void => {
    switch (e.kind) {
      case 'name':
        if (!captures.has(e.name) && lets.has(e.name)) {
          misread.add(e.name);
          warnings.push({ message: `${e.name} reads this.${e.name} (the input's field, null when it has none), not the variable declared by let ${e.name}: did you mean $${e.name}?`, at: e.at });
        }
        return;
      case 'var':
        read.add(e.name);
        return;
      case 'get':
        return visit(e.target, captures);
      case 'object':
        for (const [k, v] of e.entries) {
          visit(k, captures);
          visit(v, captures);
        }
        return;
      case 'array':
        for (const item of e.items) visit(item, captures);
        return;
      case 'call':
        return visitArgs(e.args, captures);
      case 'method':
        visit(e.target, captures);
        return visitArgs(e.args, captures);
      case 'context':
        visit(e.target, captures);
        return visit(e.body, captures);
      case 'binary':
        visit(e.left, captures);
        return visit(e.right, captures);
      case 'not':
      case 'negate':
        return visit(e.operand, captures);
      case 'if':
        for (const [c, v] of e.branches) {
          visit(c, captures);
          visit(v, captures);
        }
        if (e.otherwise) visit(e.otherwise, captures);
        return;
      case 'match':
        if (e.subject) visit(e.subject, captures);
        for (const c of e.cases) {
          if (c.pattern) visit(c.pattern, captures);
          visit(c.value, captures);
        }
        return;
      case 'lambda':
        return visit(e.body, new Set([...captures, e.param]));
      default:
        return;
    }
  };

  const declare = (statements: Statement[]) => {
    for (const s of statements) {
      if (s.kind === 'let' && !lets.has(s.name)) lets.set(s.name, s.at);
      if (s.kind === 'if') {
        for (const [, body] of s.branches) declare(body);
        if (s.otherwise) declare(s.otherwise);
      }
    }
  };
  const walk = (statements: Statement[]) => {
    for (const s of statements) {
      if (s.kind === 'if') {
        for (const [cond, body] of s.branches) {
          visit(cond, new Set());
          walk(body);
        }
        if (s.otherwise) walk(s.otherwise);
      } else {
        visit(s.value, new Set());
      }
    }
  };
  declare(program.statements);
  walk(program.statements);
  for (const body of program.maps.values()) walk(body);
  for (const [name, at] of lets) if (!read.has(name) && !misread.has(name)) warnings.push({ message: `variable ${name} is never used (read it as $${name})`, at });

  return warnings
    .sort((a, b) => a.at - b.at)
    .map((w) => ({ message: w.message, ...position(source, w.at) }));
}
