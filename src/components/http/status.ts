// What an HTTP output does with a response status: Redpanda Connect's rule (httpclient
// checkStatus), plus sluice's split_on_bad_request.

/** Statuses that say the body itself is invalid: split_on_bad_request bisects such a request. */
export const SPLIT_STATUSES: ReadonlySet<number> = new Set([400, 413, 422]);

/** success; retry after retry_period (linear) or with back-off; or fail at once. */
export type Verdict = 'success' | 'linear' | 'backoff' | 'fail';

export interface StatusRules {
  readonly drop_on: readonly number[];
  readonly backoff_on: readonly number[];
  readonly successful_on: readonly number[];
  readonly follow_redirects: boolean;
  readonly split_on_bad_request: boolean;
}

/**
 * drop_on fails at once, backoff_on retries with back-off, successful_on and 2xx succeed, a 3xx
 * succeeds when redirects are not followed, anything else is retried at retry_period. A 400/413/422
 * that will be split (split_on_bad_request) is final, the halves taking the place of retries.
 */
export function judgeStatus(rules: StatusRules, status: number): Verdict {
  if (rules.drop_on.includes(status)) return 'fail';
  if (rules.backoff_on.includes(status)) return 'backoff';
  if (rules.successful_on.includes(status)) return 'success';
  if (!rules.follow_redirects && status >= 300 && status <= 399) return 'success';
  if (status >= 200 && status <= 299) return 'success';
  if (rules.split_on_bad_request && SPLIT_STATUSES.has(status)) return 'fail';
  return 'linear';
}
