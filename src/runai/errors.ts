// How a Run:ai call fails: one error type whose kind says what to do about it.

export type RunAiErrorKind =
  /** The server answered a status the call can't use (after retries, for 429/5xx). */
  | 'status'
  /** The token request was refused: bad credentials. */
  | 'auth'
  /** Connection refused or reset, DNS failure (after retries). */
  | 'transport'
  /** No complete answer within `http.timeout` (after retries). */
  | 'timeout'
  /** A 2xx answer the client can't read: not JSON, wrong shape, a value that isn't a number. */
  | 'malformed'
  /** A listing went past its pages, rows, bytes or deadline, or repeated a page; an answer was too large. */
  | 'limit';

/** A failed Run:ai call. The message names the route, what came back and what was wrong. */
export class RunAiError extends Error {
  override readonly name = 'RunAiError';
  constructor(
    readonly kind: RunAiErrorKind,
    message: string,
    /** The HTTP status, when there was an answer. */
    readonly status?: number,
  ) {
    super(message);
  }
}

/** Clips a server's text for an error message. */
export const clip = (text: string): string => (text.length > 80 ? `${text.slice(0, 77)}...` : text);
