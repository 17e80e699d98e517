import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineProcessor } from '../../engine/component.js';
import type { Message } from '../../engine/message.js';
import { compileExpression, DELETED, type MappingContext } from '../../mapping/environment.js';

type MappingConfig = string | { expression?: string; file?: string; meta?: Record<string, string>; compile?: boolean };

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
      compile: {
        type: 'boolean',
        default: true,
        description:
          'Compile the expressions to JavaScript (same results, many times faster); an expression using what the compiler does not cover runs in the JSONata interpreter. false always interprets.',
      },
    },
  },
  example: '{ "id": $uuid_v4(), "name": name }',
  create(config, { baseDir, logger }) {
    const { body, meta } = compile(config, baseDir);
    const interpreted = [...(body ? [['expression', body] as const] : []), ...meta.map(([key, e]) => [`meta.${key}`, e] as const)]
      .filter(([, expression]) => !expression.compiled)
      .map(([field, expression]) => `${field}: ${expression.interpretedBecause}`);
    if (interpreted.length === 0) logger.info('Mapping runs compiled to JavaScript.');
    else logger.info({ interpreted }, 'Mapping runs in the JSONata interpreter.');

    const failed = (message: Message, err: unknown): Message => {
      logger.error({ err: (err as Error).message }, 'Mapping failed, the message passes on unchanged and flagged.');
      return message.withError(err as Error);
    };

    /** The new metadata, evaluating each `meta` expression in turn; a Promise only when one runs async. */
    const evaluateMeta = (context: MappingContext, next: Record<string, unknown>, from: number): Record<string, unknown> | Promise<Record<string, unknown>> => {
      for (let i = from; i < meta.length; i++) {
        const [key, expression] = meta[i]!;
        const value = expression.evaluateSync(context);
        if (value instanceof Promise) {
          return value.then((v) => {
            setMeta(next, key, v);
            return evaluateMeta(context, next, i + 1);
          });
        }
        setMeta(next, key, value);
      }
      return next;
    };

    const finish = (message: Message, context: MappingContext, result: unknown): Message | undefined | Promise<Message | undefined> => {
      if (result === DELETED) return undefined;
      const next = body ? message.withJSON(result ?? null) : message;
      // Encoded now (the output would, later): a body that cannot be encoded (a non-finite number,
      // nesting too deep) flags the message here, once, instead of failing every attempt to send it.
      if (body) next.text();
      if (meta.length === 0) return next;
      const metadata = evaluateMeta(context, { ...message.metadata }, 0);
      if (metadata instanceof Promise) return metadata.then((m) => next.withMetadata(m), (err: unknown) => failed(message, err));
      return next.withMetadata(metadata);
    };

    // A body that is not a JSON object (a plain-text line, a number) is the mapping's `$` as is:
    // its text, or the number. Field names then find nothing, so a mapping that reads fields says
    // so once, at its first such message, instead of silently producing `{}` for each.
    let notObjectSeen = !(body?.readsFields ?? false);
    const noteNotObject = (message: Message) => {
      let kind: string;
      try {
        const value = message.json();
        if (value !== null && typeof value === 'object') return;
        kind = `a JSON ${value === null ? 'null' : typeof value}`;
      } catch {
        kind = 'not JSON';
      }
      notObjectSeen = true;
      logger.warn(`A message body is ${kind}: this mapping reads fields, which find nothing in it ($ is the body itself, as text when it is not JSON). Logged once.`);
    };

    /** One message mapped: synchronous when every expression ran compiled, else a Promise. */
    const mapOne = (batch: readonly Message[], index: number): Message | undefined | Promise<Message | undefined> => {
      const message = batch[index]!;
      if (!notObjectSeen) noteNotObject(message);
      const context = { message, batch, index };
      try {
        const result = body ? body.evaluateSync(context) : undefined;
        if (result instanceof Promise) return result.then((r) => finish(message, context, r)).catch((err: unknown) => failed(message, err));
        return finish(message, context, result);
      } catch (err) {
        return failed(message, err);
      }
    };

    const mapFrom = (batch: readonly Message[], from: number, out: Message[]): Message[][] | Promise<Message[][]> => {
      for (let index = from; index < batch.length; index++) {
        const mapped = mapOne(batch, index);
        if (mapped instanceof Promise) {
          return mapped.then((m) => {
            if (m !== undefined) out.push(m);
            return mapFrom(batch, index + 1, out);
          });
        }
        if (mapped !== undefined) out.push(mapped);
      }
      return out.length > 0 ? [out] : [];
    };

    return {
      process: (batch) => mapFrom(batch, 0, []),
      close: async () => {},
    };
  },
});

function setMeta(next: Record<string, unknown>, key: string, value: unknown): void {
  if (value === undefined || value === null) delete next[key];
  else next[key] = value;
}

function compile(config: MappingConfig, baseDir: string) {
  // The string form has no `compile` key: it compiles, as the schema's default says.
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
  const options = { compile: config.compile };
  const field = config.file !== undefined ? 'file' : 'expression';
  const body = source === undefined ? undefined : withField(field, () => compileExpression(source, options));
  const meta = Object.entries(config.meta ?? {}).map(([key, expr]) => [key, withField(`meta.${key}`, () => compileExpression(expr, options))] as const);
  return { body, meta };
}

function withField<T>(field: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw Object.assign(err as Error, { field });
  }
}
