import { defineProcessor } from '../../engine/component.js';
import { componentPath } from '../../engine/metrics.js';
import { compileInterpolation, type Interpolated } from '../../mapping/interpolation.js';

interface MetricConfig {
  type: 'counter' | 'counter_by' | 'gauge' | 'timing';
  name: string;
  labels: Record<string, string>;
  value: string | number;
}

export default defineProcessor<MetricConfig>({
  name: 'metric',
  summary: 'Counts or measures each message into a custom Prometheus metric on /metrics; messages pass on unchanged.',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['type', 'name'],
    properties: {
      type: {
        type: 'string',
        enum: ['counter', 'counter_by', 'gauge', 'timing'],
        description: 'counter: +1 per message (value ignored); counter_by: +value; gauge: set to value; timing: observe value.',
      },
      name: { type: 'string', pattern: '^[a-zA-Z_:][a-zA-Z0-9_:]*$', description: 'The metric name.' },
      labels: { type: 'object', additionalProperties: { type: 'string' }, default: {}, 'x-interpolated': true },
      value: { type: ['string', 'number'], default: '', 'x-interpolated': true, description: 'A number, or a string interpolated per message.' },
    },
  },
  example: { type: 'counter', name: 'events_seen' },
  create(config, { metrics, logger, label, path }) {
    // As in Connect, the series also carry the processor's label and path (unless configured labels take those names).
    const own = Object.fromEntries(Object.entries({ label, path: componentPath(path) }).filter(([k]) => !(k in config.labels)));
    const labelNames = [...Object.keys(config.labels), ...Object.keys(own)];
    const labels: [string, Interpolated][] = Object.entries(config.labels).map(([k, v]) => [k, compileInterpolation(v)]);
    const value = compileInterpolation(String(config.value));
    const help = `Custom ${config.type} from a metric processor.`;
    const metric =
      config.type === 'counter' || config.type === 'counter_by'
        ? metrics.counter(config.name, help, labelNames)
        : config.type === 'gauge'
          ? metrics.gauge(config.name, help, labelNames)
          : metrics.timer(config.name, help, labelNames);
    return {
      async process(batch) {
        for (let index = 0; index < batch.length; index++) {
          const context = { message: batch[index]!, batch, index };
          try {
            const values: Record<string, string> = { ...own };
            for (const [k, v] of labels) values[k] = await v.render(context);
            if (config.type === 'counter') {
              (metric as ReturnType<typeof metrics.counter>).inc(values, 1);
              continue;
            }
            const n = Number(await value.render(context));
            if (!Number.isFinite(n)) throw new Error(`metric value is not a number`);
            if (config.type === 'counter_by') (metric as ReturnType<typeof metrics.counter>).inc(values, n);
            else if (config.type === 'gauge') (metric as ReturnType<typeof metrics.gauge>).set(values, n);
            else (metric as ReturnType<typeof metrics.timer>).observe(values, n);
          } catch (err) {
            logger.warn({ err: (err as Error).message }, 'Metric not recorded for a message.');
          }
        }
        return [batch.slice()];
      },
      close: async () => {},
    };
  },
});
