// Fills a component config with its schema defaults, as the config loader does before create(),
// so tests write only what they mean and never restate a default.
import { Ajv, type ValidateFunction } from 'ajv';
import { parseDuration } from '../../src/config/duration.js';
import type { ComponentSpec } from '../../src/engine/component.js';

const isDuration = (text: string) => {
  try {
    parseDuration(text);
    return true;
  } catch {
    return false;
  }
};

const ajv = new Ajv({ useDefaults: true, strict: false, allErrors: true });
ajv.addFormat('duration', { type: 'string', validate: isDuration });
ajv.addFormat('duration-or-empty', { type: 'string', validate: (s: string) => s === '' || isDuration(s) });
const compiled = new WeakMap<object, ValidateFunction>();

/** A deep copy of `config` with the spec's schema defaults applied; throws listing what is invalid. */
export function withDefaults<C>(spec: ComponentSpec<any, C>, config: unknown): C {
  let validate = compiled.get(spec.schema);
  if (!validate) {
    validate = ajv.compile(spec.schema);
    compiled.set(spec.schema, validate);
  }
  const copy = structuredClone(config);
  if (!validate(copy)) {
    const problems = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
    throw new Error(`invalid ${spec.name} config: ${problems}`);
  }
  return copy as C;
}
