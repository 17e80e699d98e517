// Resources as Redpanda Connect has them: components declared once under `<kind>_resources`, each
// with a label, and used by name (`resource: label`, `rate_limit: label`). They may also come
// from resources files (`-r FILE`), which hold nothing else.
import type { Kind, Schema } from '../engine/component.js';
import type { LoadedConfig } from './load.js';
import { formatPath, type ConfigPath, type Problem } from './problems.js';
import type { ComponentNode, RootConfig } from './root.js';

export const RESOURCE_KINDS = ['input', 'processor', 'output', 'rate_limit', 'cache'] as const satisfies readonly Kind[];

export type ResourcesConfig = { [K in (typeof RESOURCE_KINDS)[number] as `${K}_resources`]: ComponentNode[] };

export const resourceSchemas: Record<string, Schema> = Object.fromEntries(
  RESOURCE_KINDS.map((kind) => [
    `${kind}_resources`,
    {
      type: 'array',
      default: [],
      items: { 'x-component': kind },
      description: `${kind.replace('_', ' ')}s declared once, each with a unique label, and used by name (resource: label${kind === 'rate_limit' ? ', or http_client rate_limit: label' : ''}).`,
    },
  ]),
);

/** Where a component names a resource: `resource: label` (kind input, processor or output) or http_client's `rate_limit`. */
export interface ResourceReference {
  readonly kind: Kind;
  readonly label: string;
  readonly path: readonly (string | number)[];
}

/** Every resource list as PipelineBuilder.resources() takes them. */
export function resourceLists(config: ResourcesConfig): { [K in Kind]?: ComponentNode[] } {
  return Object.fromEntries(RESOURCE_KINDS.map((kind) => [kind, config[`${kind}_resources`] ?? []]));
}

/**
 * The main config with the resources of `files` (`-r`) appended to its lists, and the problems of
 * the whole: labels colliding across files, references to no resource. `origins` says, for each
 * resource in the merged lists, the file and index it came from (to place build problems).
 */
export function mergeResources(
  main: LoadedConfig & { config: RootConfig },
  files: readonly LoadedConfig[],
): { config: RootConfig; problems: Problem[]; origins: Map<string, { loaded: LoadedConfig; index: number }> } {
  const problems: Problem[] = [];
  const config = { ...main.config };
  const origins = new Map<string, { loaded: LoadedConfig; index: number }>();
  const labels = new Map<string, string>();
  const report = (loaded: LoadedConfig, path: ConfigPath, message: string) => {
    const { line, column } = loaded.locate(path);
    problems.push({ file: loaded.file, line, column, path: formatPath(path), message, severity: 'error' });
  };
  for (const kind of RESOURCE_KINDS) {
    const key = `${kind}_resources` as const;
    const merged: ComponentNode[] = [];
    for (const loaded of [main, ...files]) {
      (loaded.config?.[key] ?? []).forEach((node, index) => {
        const label = String(node.label ?? '');
        const seen = labels.get(`${kind}/${label}`);
        if (seen !== undefined && loaded !== main) report(loaded, [key, index, 'label'], `label '${label}' collides with the ${kind.replace('_', ' ')} resource in ${seen}`);
        labels.set(`${kind}/${label}`, loaded.file);
        origins.set(`${key}[${merged.length}]`, { loaded, index });
        merged.push(node);
      });
    }
    config[key] = merged;
  }
  for (const loaded of [main, ...files]) {
    for (const ref of loaded.references) {
      if (!labels.has(`${ref.kind}/${ref.label}`)) report(loaded, ref.path, `${ref.kind.replace('_', ' ')} resource '${ref.label}' was not found`);
    }
  }
  return { config, problems, origins };
}
