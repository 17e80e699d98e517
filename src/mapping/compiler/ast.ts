// The parse tree, as jsonata@2's parser leaves it after its post-processing (processAST), and
// the refusal that sends an expression to the interpreter.

export interface Validator {
  readonly definition: string;
  validate(args: unknown[], context: unknown): unknown[];
}

export interface Stage {
  readonly type: string;
  readonly expr: Node;
}

export interface Node {
  readonly type: string;
  readonly value?: any;
  readonly position?: number;
  readonly steps?: Node[];
  readonly stages?: Stage[];
  readonly predicate?: Stage[];
  readonly group?: { readonly lhs: [Node, Node][]; readonly position?: number };
  readonly terms?: { readonly descending?: boolean; readonly expression: Node }[];
  readonly lhs?: any;
  readonly rhs?: any;
  readonly expression?: Node;
  readonly expressions?: Node[];
  readonly condition?: Node;
  readonly then?: Node;
  readonly else?: Node;
  readonly procedure?: Node;
  readonly arguments?: Node[];
  readonly body?: Node;
  readonly signature?: Validator;
  readonly thunk?: boolean;
  readonly keepArray?: boolean;
  readonly keepSingletonArray?: boolean;
  readonly consarray?: boolean;
  readonly tuple?: boolean;
  readonly focus?: string;
  readonly index?: string;
  readonly ancestor?: unknown;
  readonly seekingParent?: unknown;
}

/** Why an expression is left to the interpreter, and where (a character offset, as the parser's positions). */
export class Refusal extends Error {
  constructor(
    message: string,
    readonly position: number | undefined,
  ) {
    super(message);
  }
}
export const refuse = (reason: string, node?: Node): never => {
  throw new Refusal(reason, node?.position);
};
