import { durationSchema, parseDurationMs } from '../../config/duration.js';
import { defineRateLimit } from '../../engine/component.js';
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
  create(config) {
    const intervalMs = parseDurationMs(config.interval);
    if (intervalMs <= 0) throw Object.assign(new Error('must be greater than 0s'), { field: 'interval' });
    return new LocalRateLimit(config.count, intervalMs);
  },
});
