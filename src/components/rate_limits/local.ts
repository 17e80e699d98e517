import { durationSchema, parseDurationMs } from '../../config/duration.js';
import { defineRateLimit } from '../../engine/component.js';
import { componentPath } from '../../engine/metrics.js';
import { LocalRateLimit } from '../http/pacing.js';

interface LocalConfig {
  count: number;
  interval: string;
}

export default defineRateLimit<LocalConfig>({
  name: 'local',
  summary: 'At most `count` accesses per `interval`, counted in this process, shared by every component naming it.',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      count: { type: 'integer', minimum: 1, default: 1000, description: 'Accesses allowed per interval.' },
      interval: durationSchema('The length of one interval.', '1s'),
    },
  },
  example: { count: 10, interval: '1s' },
  create(config, { metrics, label, path }) {
    const intervalMs = parseDurationMs(config.interval);
    if (intervalMs <= 0) throw Object.assign(new Error('must be greater than 0s'), { field: 'interval' });
    const limit = new LocalRateLimit(config.count, intervalMs);
    const at = [label, componentPath(path)];
    const checked = metrics.counter('rate_limit_checked', 'Times the rate limit was probed.').labels(...at);
    const triggered = metrics.counter('rate_limit_triggered', 'Times a probe had to wait for the rate limit.').labels(...at);
    triggered.inc(0);
    metrics.counter('rate_limit_error', 'Times probing the rate limit failed.').labels(...at).inc(0);
    return {
      async access(signal) {
        checked.inc();
        const waited = await limit.access(signal);
        if (waited) triggered.inc();
        return waited;
      },
      close: () => limit.close(),
    };
  },
});
