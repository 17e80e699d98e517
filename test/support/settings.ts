import { pino } from 'pino';
import type { Builder, Settings } from '../../src/engine/component.js';
import { Metrics } from '../../src/engine/metrics.js';
import { Secrets } from '../../src/engine/secrets.js';

const noBuilder: Builder = {
  processors: () => {
    throw new Error('this test settings object builds no child components');
  },
  output: () => {
    throw new Error('this test settings object builds no child components');
  },
  input: () => {
    throw new Error('this test settings object builds no child components');
  },
  resource: () => {
    throw new Error('this test settings object holds no resources');
  },
};

/** Settings for building one component directly in a test; override what the test inspects. */
export function testSettings(overrides: Partial<Settings> = {}): Settings {
  return {
    logger: pino({ level: 'silent' }),
    path: 'test',
    label: '',
    baseDir: process.cwd(),
    metrics: new Metrics(),
    secrets: new Secrets(),
    build: noBuilder,
    ...overrides,
  };
}
