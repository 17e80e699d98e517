// Regular expressions as the interpreter evaluates them: a literal is a matcher function (its
// evaluateRegex), which $match, $contains, $split and $replace call.
import { handOver } from './runtime.js';

/** What a matcher returns for a match. */
export interface RegexMatch {
  readonly match: string;
  readonly start: number;
  readonly end: number;
  readonly groups: string[];
  readonly next: () => RegexMatch | undefined;
}

/** The matchers and next() functions made here: compiled code calls no other function as a matcher. */
const OURS = new WeakSet<object>();

/** evaluateRegex(): a matcher over a fresh copy of the literal's RegExp (it keeps lastIndex). */
export function matcherFor(literal: RegExp): (str: string, fromIndex?: number) => RegexMatch | undefined {
  const re = new RegExp(literal);
  const closure = (str: string, fromIndex?: number): RegexMatch | undefined => {
    re.lastIndex = fromIndex || 0;
    const found = re.exec(str);
    if (found === null) return undefined;
    const groups: string[] = [];
    for (let i = 1; i < found.length; i++) groups.push(found[i]!);
    const next = (): RegexMatch | undefined => {
      if (re.lastIndex >= str.length) return undefined;
      const following = closure(str, re.lastIndex);
      // A zero-length match never progresses: the interpreter's error D1004.
      if (following && following.match === '') return handOver();
      return following;
    };
    OURS.add(next);
    return { match: found[0], start: found.index, end: found.index + found[0].length, groups, next };
  };
  OURS.add(closure);
  return closure;
}

/** functions.js evaluateMatcher() for the matchers made here; any other function is left to the interpreter. */
export function evaluateMatcher(matcher: unknown, str: string | undefined): RegexMatch | undefined {
  if (typeof matcher !== 'function' || !OURS.has(matcher)) return handOver();
  return (matcher as (s: string | undefined) => RegexMatch | undefined)(str);
}
