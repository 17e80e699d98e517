// Bloblang's syntax tree. Every node keeps the character offset it starts at, for errors.

export type BinaryOp = '+' | '-' | '*' | '/' | '%' | '|' | '==' | '!=' | '<' | '<=' | '>' | '>=' | '&&' | '||';

export type Expr =
  | { kind: 'literal'; value: unknown; float?: boolean; at: number }
  /** `this` (the context), followed by path segments. */
  | { kind: 'this'; at: number }
  /** `root` read on the right-hand side: the document being built. */
  | { kind: 'root'; at: number }
  /** A named capture (`x` in `x -> x.y`) or, when no capture has the name, `this.<name>`. */
  | { kind: 'name'; name: string; at: number }
  | { kind: 'var'; name: string; at: number }
  /** `@key`, or `@` (key '') for all metadata of the message being built. */
  | { kind: 'meta'; key: string; at: number }
  | { kind: 'get'; target: Expr; path: string[]; at: number }
  | { kind: 'object'; entries: [Expr, Expr][]; at: number }
  | { kind: 'array'; items: Expr[]; at: number }
  | { kind: 'call'; name: string; args: Args; at: number }
  | { kind: 'method'; target: Expr; name: string; args: Args; at: number }
  /** `target.(expr)` / `target.(name -> expr)`: expr evaluated with `this` = target. */
  | { kind: 'context'; target: Expr; body: Expr; at: number }
  | { kind: 'binary'; op: BinaryOp; left: Expr; right: Expr; at: number }
  | { kind: 'not'; operand: Expr; at: number }
  | { kind: 'negate'; operand: Expr; at: number }
  | { kind: 'if'; branches: [Expr, Expr][]; otherwise?: Expr; at: number }
  | { kind: 'match'; subject?: Expr; cases: MatchCase[]; at: number }
  /** `x -> body`: binds the context to the capture `x` (`_` binds nothing). */
  | { kind: 'lambda'; param: string; body: Expr; at: number };

export interface MatchCase {
  /** undefined: `_`, matches anything. */
  readonly pattern?: Expr;
  readonly value: Expr;
}

export interface Args {
  readonly positional: Expr[];
  /** Named arguments (`.foo(a: 1)`); empty when called positionally. */
  readonly named: Record<string, Expr>;
}

/** Where an assignment writes. */
export type Target = { kind: 'root'; path: string[] } | { kind: 'meta'; key?: string };

export type Statement =
  | { kind: 'assign'; target: Target; value: Expr; at: number; line: number }
  | { kind: 'let'; name: string; value: Expr; at: number; line: number }
  | { kind: 'if'; branches: [Expr, Statement[]][]; otherwise?: Statement[]; at: number; line: number };

export interface Program {
  readonly statements: Statement[];
  /** `map name { ... }` definitions, including those imported. */
  readonly maps: Map<string, Statement[]>;
}
