import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineProcessor } from '../../engine/component.js';
import type { Message } from '../../engine/message.js';
import { compileExpression, DELETED, type CompiledExpression } from '../../mapping/environment.js';

type MappingConfig = string | { expression?: string; file?: string; meta?: Record<string, string> };

export default defineProcessor<MappingConfig>({
  name: 'mapping',
  summary: 'Replaces each message body with the result of a JSONata expression; metadata is kept.',
  schema: {
    type: ['string', 'object'],
    description:
      'A JSONata expression, or an object with `expression` or `file` (a .jsonata file relative to the config) and optional `meta` (key: JSONata expression; null removes the key).',
    additionalProperties: false,
    properties: {
      expression: { type: 'string', description: 'The JSONata expression.' },
      file: { type: 'string', description: 'A file holding the expression, relative to the config file.' },
      meta: {
        type: 'object',
        additionalProperties: { type: 'string' },
        description: 'Metadata to set: key -> JSONata expression evaluated on the input message.',
      },
    },
  },
  example: '{ "id": $uuid_v4(), "name": name }',
  create(config, { baseDir, logger }) {
    const { body, meta } = compile(config, baseDir);
    return {
      async process(batch) {
        const out: Message[] = [];
        for (let index = 0; index < batch.length; index++) {
          const message = batch[index]!;
          const context = { message, batch, index };
          try {
            const result = body ? await body.evaluate(context) : undefined;
            if (result === DELETED) continue;
            let next = body ? message.withJSON(result ?? null) : message;
            if (meta.length > 0) next = next.withMetadata(await evaluateMeta(meta, context, message.metadata));
            out.push(next);
          } catch (err) {
            logger.error({ err: (err as Error).message }, 'Mapping failed, the message passes on unchanged and flagged.');
            out.push(message.withError(err as Error));
          }
        }
        return out.length > 0 ? [out] : [];
      },
      close: async () => {},
    };
  },
});

function compile(config: MappingConfig, baseDir: string) {
  if (typeof config === 'string') return { body: compileExpression(config), meta: [] };
  if ((config.expression === undefined) === (config.file === undefined) && config.meta === undefined) {
    throw Object.assign(new Error('set exactly one of expression or file'), { field: '' });
  }
  if (config.expression !== undefined && config.file !== undefined) {
    throw Object.assign(new Error('set expression or file, not both'), { field: 'file' });
  }
  let source = config.expression;
  if (config.file !== undefined) {
    try {
      source = readFileSync(resolve(baseDir, config.file), 'utf8');
    } catch (err) {
      throw Object.assign(new Error(`cannot read mapping file: ${(err as Error).message}`), { field: 'file' });
    }
  }
  const body = source === undefined ? undefined : config.file !== undefined ? compileFile(config.file, source) : withField('expression', () => compileExpression(source));
  const meta = Object.entries(config.meta ?? {}).map(([key, expr]) => [key, withField(`meta.${key}`, () => compileExpression(expr))] as const);
  return { body, meta };
}

async function evaluateMeta(
  meta: readonly (readonly [string, CompiledExpression])[],
  context: { message: Message; batch: readonly Message[]; index: number },
  current: Readonly<Record<string, unknown>>,
): Promise<Record<string, unknown>> {
  const next: Record<string, unknown> = { ...current };
  for (const [key, expression] of meta) {
    const value = await expression.evaluate(context);
    if (value === undefined || value === null) delete next[key];
    else next[key] = value;
  }
  return next;
}

/** A syntax error in a mapping file is located in that file, not in the YAML that names it. */
function compileFile(file: string, source: string) {
  try {
    return compileExpression(source);
  } catch (err) {
    const { line, column } = err as { line?: number; column?: number };
    const where = line === undefined ? '' : `${file}(${line},${column}): `;
    throw Object.assign(new Error(`${where}${(err as Error).message}`), { field: 'file' });
  }
}

function withField<T>(field: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw Object.assign(err as Error, { field });
  }
}
