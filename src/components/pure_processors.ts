// The pure processors (ComponentSpec.pure): the only components a processor worker thread builds
// (src/processors_worker.ts), so a worker loads these and not every component with its libraries
// (undici, better-sqlite3, the Run:ai and Kubernetes clients...): about 0.15 s less CPU per
// worker at start. Adding a pure processor: its line here instead of in index.ts.
import type { ComponentSpec } from '../engine/component.js';
import bloblang from './processors/bloblang.js';
import jsonSchema from './processors/json_schema.js';
import log from './processors/log.js';
import mapping from './processors/mapping.js';
import mutation from './processors/mutation.js';
import noop from './processors/noop.js';
import split from './processors/split.js';
import unarchive from './processors/unarchive.js';

export const pureProcessors: readonly ComponentSpec[] = [bloblang, jsonSchema, log, mapping, mutation, noop, split, unarchive];
