import { defineProcessor } from '../../engine/component.js';
import { pinoLevel } from '../../engine/logger.js';
import { compileMappingText } from '../../mapping/language.js';
import { compileInterpolation } from '../../mapping/interpolation.js';

interface LogConfig {
  level: string;
  message: string;
  fields_mapping: string;
}

export default defineProcessor<LogConfig>({
  name: 'log',
  pure: true,
  summary: 'Logs a line per message (with ${! } interpolation); messages pass on unchanged.',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      level: { type: 'string', enum: ['FATAL', 'ERROR', 'WARN', 'INFO', 'DEBUG', 'TRACE', 'ALL'], default: 'INFO' },
      message: { type: 'string', default: '', 'x-interpolated': true, description: 'The log message; ${! jsonata } is evaluated per message.' },
      fields_mapping: { type: 'string', default: '', description: 'A JSONata expression returning an object of fields to add to the log line.' },
    },
  },
  example: { message: 'got ${! name }' },
  create(config, { logger }) {
    const level = pinoLevel(config.level) as 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
    const message = compileInterpolation(config.message);
    const fields = config.fields_mapping === '' ? undefined : compileMappingText(config.fields_mapping);
    return {
      async process(batch) {
        if (!logger.isLevelEnabled(level)) return [batch.slice()];
        for (let index = 0; index < batch.length; index++) {
          const context = { message: batch[index]!, batch, index };
          try {
            const extra = fields ? await fields.evaluate(context) : undefined;
            logger[level](typeof extra === 'object' && extra !== null ? extra : {}, await message.render(context));
          } catch (err) {
            logger.error({ err: (err as Error).message }, 'Log message failed to render.');
          }
        }
        return [batch.slice()];
      },
      close: async () => {},
    };
  },
});
