// The pure processors (ComponentSpec.pure): the only components a processor worker thread builds
// (src/processors_worker.ts). A worker loads the modules of the processors its config names and
// nothing else: not every component with its libraries (undici, better-sqlite3, the Run:ai and
// Kubernetes clients...), nor ajv or Bloblang for a pipeline of JSONata mappings. Adding a pure
// processor: its line here instead of in index.ts.
import type { ComponentSpec } from '../engine/component.js';

type Module = () => Promise<{ readonly default: ComponentSpec }>;

const PURE_PROCESSORS: Readonly<Record<string, Module>> = {
  bloblang: () => import('./processors/bloblang.js'),
  json_schema: () => import('./processors/json_schema.js'),
  log: () => import('./processors/log.js'),
  mapping: () => import('./processors/mapping.js'),
  mutation: () => import('./processors/mutation.js'),
  noop: () => import('./processors/noop.js'),
  split: () => import('./processors/split.js'),
  unarchive: () => import('./processors/unarchive.js'),
};

/** Whether `name` is a pure processor's. */
export const isPureProcessor = (name: string): boolean => Object.hasOwn(PURE_PROCESSORS, name);

/** The specs of the pure processors named (unknown names are skipped), by default of all of them. */
export async function loadPureProcessors(names: Iterable<string> = Object.keys(PURE_PROCESSORS)): Promise<ComponentSpec[]> {
  const wanted = [...new Set(names)].filter(isPureProcessor);
  return Promise.all(wanted.map(async (name) => (await PURE_PROCESSORS[name]!()).default));
}
