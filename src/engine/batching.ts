import { durationSchema } from '../config/duration.js';
import type { Schema } from './component.js';

/** A batching policy as users write it under an output's `batching:` key (Redpanda Connect's fields). */
export interface BatchingConfig {
  count: number;
  byte_size: number;
  period: string;
  check: string;
  processors: unknown[];
}

/**
 * The schema every batching output includes as its `batching` property. The engine, not the
 * output, runs the policy: it finds `batching` in the validated config and batches before write().
 */
export const batchingSchema: Schema = {
  type: 'object',
  additionalProperties: false,
  description: 'Groups messages into batches before they are written. A batch is flushed when any trigger fires.',
  default: {},
  properties: {
    count: { type: 'integer', minimum: 0, default: 0, description: 'Flush once this many messages are held; 0 disables.' },
    byte_size: { type: 'integer', minimum: 0, default: 0, description: 'Flush once the bodies held reach this many bytes; 0 disables.' },
    period: { ...durationSchema('Flush a partial batch this long after the last flush; empty disables.', ''), format: 'duration-or-empty' },
    check: { type: 'string', default: '', description: 'A JSONata expression evaluated on each new message; true flushes.' },
    processors: {
      type: 'array',
      default: [],
      items: { 'x-component': 'processor' },
      description: 'Processors run on each batch when it is flushed (e.g. archive to a JSON array).',
    },
  },
};
