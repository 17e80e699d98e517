// `sluice streams [-o service.yaml] [-r resources.yaml]... <file|dir>...`: several pipelines in one
// process, as `benthos streams` runs them: each stream file its own input -> output, one HTTP
// server for all (from -o's `http`), their metrics on it labelled with `stream`.
import { statSync } from 'node:fs';
import { basename, extname, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { registry } from '../components/index.js';
import { glob, GLOB, walk } from '../config/files.js';
import { loadConfigFile } from '../config/load.js';
import { formatProblem } from '../config/problems.js';
import { Endpoints } from '../engine/endpoints.js';
import { startHttpServer } from '../engine/http_server.js';
import { createLogger } from '../engine/logger.js';
import { mergeExpositions } from '../engine/metrics.js';
import { Secrets } from '../engine/secrets.js';
import { preparePipeline, VERSION, type Prepared } from '../service.js';

export const STREAMS_USAGE = `Usage: sluice streams [-o service.yaml] [-r resources.yaml]... [--chilled] [--log.level LEVEL] <file|dir>...

Runs each stream file (a directory: every .yaml below it) as its own pipeline in one process.
The -o file's http, logger and metrics sections configure the shared service; each stream's
metrics carry a stream label (the file name without extension).
`;

/** Runs the streams until every one has ended or SIGINT/SIGTERM; resolves the exit code. */
export async function streamsCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      observability: { type: 'string', short: 'o' },
      resources: { type: 'string', short: 'r', multiple: true },
      chilled: { type: 'boolean', default: false },
      'log.level': { type: 'string' },
    },
    allowPositionals: true,
    strict: true,
  });
  const files = positionals.flatMap(streamFiles);
  if (files.length === 0) {
    process.stderr.write(`streams takes at least one stream file or directory\n\n${STREAMS_USAGE}`);
    return 1;
  }
  const service = values.observability ? loadConfigFile(values.observability, { registry, chilled: values.chilled }) : undefined;
  const http = service?.config?.http ?? { enabled: true, address: '0.0.0.0:4195', root_path: '/benthos' };
  // An http_server input with no address of its own serves on the shared server, as in Connect.
  const endpoints = new Endpoints(http.enabled);
  const streams = files.map(({ file, id }) => ({
    id,
    prepared: preparePipeline(file, { resources: values.resources, chilled: values.chilled, logLevel: values['log.level'], stream: id, set: ['http.enabled=false'], endpoints }) as Prepared,
  }));
  const problems = [...(service?.problems ?? []), ...streams.flatMap((s) => s.prepared.problems)];
  for (const p of problems) process.stderr.write(`${formatProblem(p)}\n`);
  if ((service && !service.config) || streams.some((s) => !s.prepared.ready)) {
    process.stderr.write('shutting down due to config errors\n');
    return 1;
  }
  const logger = createLogger({ ...(service?.config?.logger ?? { format: 'logfmt', add_timestamp: true, static_fields: { '@service': 'sluice' } }), level: values['log.level'] ?? service?.config?.logger.level ?? 'INFO' }, new Secrets());
  const ready = streams.map((s) => ({ id: s.id, ...s.prepared.ready! }));
  const server = http.enabled
    ? await startHttpServer({
        address: http.address,
        rootPath: http.root_path,
        version: VERSION,
        logger,
        metrics: { exposition: async () => mergeExpositions(await Promise.all(ready.map((s) => s.metrics.exposition()))), registry: ready[0]!.metrics.registry },
        statuses: () => ready.flatMap((s) => s.pipeline.statuses().map((status) => ({ ...status, path: `${s.id}.${status.path}` }))),
        endpoints,
      })
    : undefined;
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info(`Received ${signal}, the streams are closing.`);
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  logger.info({ streams: ready.map((s) => s.id) }, `Running ${ready.length} streams.`);
  try {
    const results = await Promise.all(ready.map((s) => s.pipeline.run(stop.signal)));
    return results.some((r) => r.undelivered > 0) ? 1 : 0;
  } finally {
    await server?.close();
  }
}

/** The stream files a target names, each with its id: the file name, or its path below a named directory, without extension. */
function streamFiles(target: string): { file: string; id: string }[] {
  const yaml = (f: string) => /\.ya?ml$/.test(f) && !/_(sluice|benthos)_test\.ya?ml$/.test(f);
  const idOf = (file: string, base?: string) => (base ? relative(base, file) : basename(file)).slice(0, -extname(file).length).replace(/[\\/]/g, '_');
  if (GLOB.test(target)) return glob(target).filter(yaml).map((file) => ({ file, id: idOf(file) }));
  try {
    if (statSync(target).isDirectory()) return walk(target).filter(yaml).map((file) => ({ file, id: idOf(file, target) }));
  } catch {
    // A missing file is reported when it is read.
  }
  return [{ file: target, id: idOf(target) }];
}
