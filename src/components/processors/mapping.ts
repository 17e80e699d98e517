import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineProcessor, type Settings } from '../../engine/component.js';
import type { Message, Metadata } from '../../engine/message.js';
import { compileBloblangMapping, DELETED as BLOBLANG_DELETED, NOTHING, type BloblangMapping } from '../../mapping/bloblang/index.js';
import { lintMapping, type LintWarning } from '../../mapping/bloblang/lint.js';
import { cleanForOutput } from '../../mapping/bloblang/values.js';
import { compileExpression, currentHooks, DELETED, type CompiledExpression, type MappingContext } from '../../mapping/environment.js';
import { asSyntaxError, compileQuery, detectMappingLanguage, type Language, type LanguageChoice } from '../../mapping/language.js';

export type MappingConfig = string | { expression?: string; file?: string; meta?: Record<string, string>; compile?: boolean; lang?: LanguageChoice };

export default defineProcessor<MappingConfig>({
  name: 'mapping',
  pure: true,
  summary:
    'Replaces each message body with the result of a mapping, in JSONata or Bloblang (detected, or set by `lang`); metadata is kept unless a Bloblang mapping assigns it.',
  schema: {
    type: ['string', 'object'],
    description:
      'A mapping, or an object with `expression` or `file` (a file relative to the config), optional `meta` (key: expression; null removes the key) and `lang`. A mapping whose statements are Bloblang assignments (`root = ...`, `meta k = ...`, `let x = ...`, `map name {`, `import "..."`) is Bloblang; otherwise JSONata.',
    additionalProperties: false,
    properties: {
      lang: {
        type: 'string',
        enum: ['auto', 'jsonata', 'bloblang'],
        default: 'auto',
        description: 'The mapping language: `auto` detects it (Bloblang when its statements are Bloblang assignments), or force `jsonata` / `bloblang`.',
      },
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
  create: (config, settings) => createMapping(config, settings, undefined),
});

/**
 * Builds a mapping processor; `forced` fixes the language (the `bloblang` and `mutation`
 * processors), otherwise the config's `lang` or detection decides. `mutate` (with Bloblang only)
 * runs the mapping as Connect's `mutation`: root starts as the input document.
 */
export function createMapping(config: MappingConfig, settings: Settings, forced: Language | undefined, mutate = false) {
  const { baseDir, logger } = settings;
  {
    const field = typeof config === 'string' ? undefined : config.file !== undefined ? 'file' : 'expression';
    const warn = (w: LintWarning) => settings.note?.(w.message, { field, line: w.line, column: w.column, warning: true });
    const { body, meta, language, detected } = compile(config, baseDir, forced, warn);
    if (detected && language === 'bloblang') settings.note?.('mapping detected as Bloblang (set lang: jsonata to read it as JSONata)', { field });
    if (body && 'execute' in body) return bloblangProcessor(body, meta, settings, mutate);
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

    const literalMeta = literalMetadata(meta);

    const finish = (message: Message, context: MappingContext, result: unknown): Message | undefined | Promise<Message | undefined> => {
      if (result === DELETED) return undefined;
      const next = body ? message.withJSON(result ?? null) : message;
      // Checked now: a body that cannot be encoded (a non-finite number, nesting too deep) flags the
      // message here, once, instead of failing every attempt to send it. Encoding waits for the
      // output, which may encode a whole batch at once (archive).
      if (body) next.assertEncodable();
      if (meta.length === 0) {
        if (body) message.releaseParsed();
        return next;
      }
      const metadata = literalMeta ? literalMeta(message.metadata) : evaluateMeta(context, { ...message.metadata }, 0);
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

    return {
      process: mapEach(mapOne),
      close: async () => {},
      cpuBound: interpreted.length > 0,
    };
  }
}

function setMeta(next: Record<string, unknown>, key: string, value: unknown): void {
  if (value === undefined || value === null) delete next[key];
  else next[key] = value;
}

type Meta = (readonly [string, CompiledExpression])[];

/**
 * When every `meta` expression is a literal (`'"runai"'`, `'42'`, `'null'`), the metadata they
 * make from a message's, computed without evaluating anything: for a message without metadata,
 * one frozen object shared by every message (metadata is never mutated). Undefined otherwise.
 */
function literalMetadata(meta: Meta): ((metadata: Metadata) => Metadata) | undefined {
  if (!meta.every(([, expression]) => expression.literal)) return undefined;
  const apply = (metadata: Metadata): Record<string, unknown> => {
    const next = { ...metadata };
    for (const [key, expression] of meta) setMeta(next, key, expression.literal!.value);
    return next;
  };
  const fromNothing = Object.freeze(apply({}));
  return (metadata) => {
    for (const _ in metadata) return apply(metadata);
    return fromNothing;
  };
}

function compile(config: MappingConfig, baseDir: string, forced: Language | undefined, warn: (w: LintWarning) => void): { body: CompiledExpression | BloblangMapping | undefined; meta: Meta; language: Language; detected: boolean } {
  const choose = (source: string, lang: LanguageChoice | undefined) => {
    if (forced) return { language: forced, detected: false };
    if (lang === undefined || lang === 'auto') return { language: detectMappingLanguage(source), detected: true };
    return { language: lang, detected: false };
  };
  // The string form has no `compile` key: it compiles, as the schema's default says.
  if (typeof config === 'string') {
    const { language, detected } = choose(config, 'auto');
    return { body: language === 'bloblang' ? compileBloblang(config, baseDir, warn) : compileExpression(config), meta: [], language, detected };
  }
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
  const { language, detected } = source === undefined ? choose('', config.lang === 'auto' ? 'jsonata' : config.lang) : choose(source, config.lang);
  const body =
    source === undefined ? undefined : withField(field, () => (language === 'bloblang' ? compileBloblang(source, baseDir, warn) : compileExpression(source, options)));
  const meta = Object.entries(config.meta ?? {}).map(
    ([key, expr]) => [key, withField(`meta.${key}`, () => compileQuery(expr, language === 'bloblang' && !detected ? 'bloblang' : 'auto', options))] as const,
  );
  return { body, meta, language, detected };
}

/** Compiles a Bloblang mapping; lint warnings on it go to `warn`. */
function compileBloblang(source: string, baseDir: string, warn: (w: LintWarning) => void): BloblangMapping {
  let mapping: BloblangMapping;
  try {
    mapping = compileBloblangMapping(source, { importFile: (path) => readFileSync(resolve(baseDir, path), 'utf8') });
  } catch (err) {
    throw asSyntaxError(err);
  }
  for (const w of lintMapping(source, mapping.program)) warn(w);
  return mapping;
}

/**
 * The processor for a Bloblang mapping: root, meta and deleted() as Connect's `mapping`, or as its
 * `mutation` when `mutate`; failures flag the message as JSONata's do.
 */
function bloblangProcessor(mapping: BloblangMapping, meta: Meta, { logger }: Settings, mutate: boolean) {
  logger.info('Mapping runs as Bloblang compiled to JavaScript.');
  const run = mutate ? mapping.mutate : mapping.execute;
  const failed = (message: Message, err: unknown): Message => {
    logger.error({ err: (err as Error).message }, 'Mapping failed, the message passes on unchanged and flagged.');
    return message.withError(err as Error);
  };
  /** One message mapped: synchronous unless `meta` expressions are configured. */
  const mapOne = (batch: readonly Message[], index: number): Message | undefined | Promise<Message | undefined> => {
    const message = batch[index]!;
    const context = { message, batch, index };
    let next = message;
    try {
      const result = run(context, currentHooks());
      const root = result.root;
      if (root === BLOBLANG_DELETED) return undefined;
      if (root !== NOTHING) {
        next = typeof root === 'string' || root instanceof Uint8Array ? message.withBytes(root) : message.withJSON(cleanForOutput(root));
        next.text();
      }
      if (result.meta) next = next.withMetadata(result.meta);
    } catch (err) {
      return failed(message, err);
    }
    if (meta.length === 0) return next;
    return (async () => {
      const metadata: Record<string, unknown> = { ...next.metadata };
      for (const [key, expression] of meta) setMeta(metadata, key, await expression.evaluate(context));
      return next.withMetadata(metadata);
    })().catch((err: unknown) => failed(message, err));
  };
  return {
    process: mapEach(mapOne),
    close: async () => {},
  };
}

type MapOne = (batch: readonly Message[], index: number) => Message | undefined | Promise<Message | undefined>;

/**
 * A processor's process() mapping each message of a batch in order with `mapOne` (undefined drops
 * it): synchronous while every message maps synchronously, so compiled mappings cost no promise.
 */
function mapEach(mapOne: MapOne): (batch: readonly Message[]) => Message[][] | Promise<Message[][]> {
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
  return (batch) => mapFrom(batch, 0, []);
}

function withField<T>(field: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw Object.assign(err as Error, { field });
  }
}
