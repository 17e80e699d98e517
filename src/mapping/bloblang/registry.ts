// The contract between the evaluator and Bloblang's functions and methods: how a call site hands
// its arguments over, and the run state (message, variables, metadata) a function can read.
import type { Message } from '../../engine/message.js';

/** What a mapping sees besides its input document (structurally the JSONata environment's MappingContext). */
export interface BloblangContext {
  readonly message: Message;
  readonly batch: readonly Message[];
  readonly index: number;
}

/** Time and identity sources, replaceable for tests (sluice test, --now, --uuid-seed). */
export interface Sources {
  now(): Date;
  uuidV4(): string;
}

/** Named captures in scope: `x -> ...` binds x. */
export interface Captures {
  readonly name: string;
  readonly value: unknown;
  readonly parent: Captures | undefined;
}

/** One execution of a mapping on one message. */
export interface Run {
  readonly context: BloblangContext;
  readonly sources: Sources;
  /** The message body as a structured value (parsed once, on first use). */
  document(): unknown;
  /** Metadata of the message being built (`@`), copied from the input on first write. */
  meta: Record<string, unknown>;
  metaOwned: boolean;
  readonly vars: Map<string, unknown>;
  /** The document being built (`root`); NOTHING until assigned. */
  root: unknown;
  /** Runs a named map (`apply`) with `this` = value; resolves its root. */
  applyMap(name: string, value: unknown): unknown;
  /** A run on another message of the batch (`from(i)`), sharing variables; undefined past the batch. */
  forMessage(index: number): Run | undefined;
}

/** Where a function or method is called from: evaluates query arguments in the caller's scope. */
export interface CallSite {
  readonly run: Run;
  /** `this` at the call site. */
  readonly ctx: unknown;
  readonly captures: Captures | undefined;
  /** "method map_each", "function uuid_v4": for error messages. */
  readonly label: string;
  /** State kept by this call site across executions (`counter()`); functions only. */
  readonly state?: Record<string, unknown>;
}

/**
 * A query argument (map_each's, filter's, ...): evaluates the argument with `this` = value, or,
 * for a lambda `x -> body`, with the capture x = value and `this` unchanged.
 */
export type Query = (value: unknown, site: CallSite) => unknown;

export interface ParamSpec {
  readonly name: string;
  readonly optional?: boolean;
  /** Receives a Query rather than a value: `this` inside the argument is the value given (map_each, filter). */
  readonly query?: boolean;
  /** Receives a Query: a lambda is applied to the value given, anything else is evaluated where it is written (catch). */
  readonly lambda?: boolean;
  /** Takes every remaining positional argument, as an array. */
  readonly rest?: boolean;
}

export interface MethodSpec {
  readonly params: readonly ParamSpec[];
  /** The target is passed unevaluated (a thunk): catch, or, and conversions with a default. */
  readonly lazyTarget?: boolean;
  /** The target is passed as a Query over messages: impl calls it with another message's run (from, from_all). */
  readonly perMessage?: boolean;
  readonly impl: (target: unknown, args: unknown[], site: CallSite) => unknown;
}

export interface FunctionSpec {
  readonly params: readonly ParamSpec[];
  /** Depends on the message, time or randomness: never folded at compile time. */
  readonly impure?: boolean;
  readonly impl: (args: unknown[], site: CallSite) => unknown;
}

/** `params('name')`; suffixes: `?` optional, `*` rest, `!` query, `^` value or lambda. */
export function params(...specs: string[]): ParamSpec[] {
  return specs.map((s) => ({
    name: s.replace(/[?*!^]+$/, ''),
    optional: s.includes('?') || s.endsWith('*'),
    query: s.includes('!'),
    lambda: s.includes('^'),
    rest: s.endsWith('*'),
  }));
}
