// Validates a component config exactly as the config loader does (the project's ajv: defaults
// applied, strict, sluice's keywords and formats), so tests write only what they mean, never
// restate a default, and assert the messages users see.
import type { ValidateFunction } from 'ajv';
import { createAjv, describeAjvError } from '../../src/config/load.js';
import { formatPath } from '../../src/config/problems.js';
import type { ComponentSpec } from '../../src/engine/component.js';

const ajv = createAjv();
const compiled = new WeakMap<object, ValidateFunction>();

function validatorFor(spec: ComponentSpec): ValidateFunction {
  let validate = compiled.get(spec.schema);
  if (!validate) {
    const { default: _rootDefault, ...schema } = spec.schema;
    validate = ajv.compile(schema);
    compiled.set(spec.schema, validate);
  }
  return validate;
}

/** Each problem with `config`, as `path: message` the way `sluice lint` words it; [] when valid. */
export function configProblems(spec: ComponentSpec<any, any>, config: unknown): string[] {
  const validate = validatorFor(spec);
  if (validate(structuredClone(config))) return [];
  return (validate.errors ?? []).map((error) => {
    const { path, message } = describeAjvError(error);
    return path.length === 0 ? message : `${formatPath(path)}: ${message}`;
  });
}

/** A deep copy of `config` with the spec's schema defaults applied; throws listing what is invalid. */
export function withDefaults<C>(spec: ComponentSpec<any, C>, config: unknown): C {
  const copy = structuredClone(config);
  if (!validatorFor(spec)(copy)) throw new Error(`invalid ${spec.name} config: ${configProblems(spec, config).join('; ')}`);
  return copy as C;
}
