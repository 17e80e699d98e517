import { pino } from 'pino';
import { components } from '../../src/components/index.js';
import { loadConfigText } from '../../src/config/load.js';
import { formatProblem } from '../../src/config/problems.js';
import type { ComponentSpec } from '../../src/engine/component.js';
import { Metrics } from '../../src/engine/metrics.js';
import { buildPipeline, type Pipeline } from '../../src/engine/pipeline.js';
import { createRegistry } from '../../src/engine/registry.js';
import { Secrets } from '../../src/engine/secrets.js';

/** Builds a pipeline from YAML text with the real components plus `extra`; throws listing every problem. */
export function pipelineFromYaml(yaml: string, extra: ComponentSpec[] = []): { pipeline: Pipeline; metrics: Metrics } {
  const registry = createRegistry([...components.filter((c) => !extra.some((e) => e.kind === c.kind && e.name === c.name)), ...extra]);
  const loaded = loadConfigText(yaml, 'test.yaml', { registry, env: {} });
  if (!loaded.config) throw new Error(loaded.problems.map(formatProblem).join('\n'));
  const metrics = new Metrics();
  const { pipeline, problems } = buildPipeline(loaded.config, {
    registry,
    logger: pino({ level: 'silent' }),
    metrics,
    secrets: new Secrets(),
    baseDir: process.cwd(),
    strict: loaded.config.error_handling.strict,
  });
  const errors = problems.filter((p) => p.severity !== 'note');
  if (errors.length > 0) throw new Error(errors.map((p) => `${p.path.join('.')}: ${p.message}`).join('\n'));
  return { pipeline, metrics };
}
