import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/engine/logger.js';
import { Secrets } from '../../src/engine/secrets.js';

function capture() {
  const lines: string[] = [];
  return { lines, stream: { write: (line: string) => void lines.push(line) } };
}

describe('logger', () => {
  it('never writes a registered secret or a bearer token, at any level and in any field', () => {
    const secrets = new Secrets();
    secrets.add('app-secret-123');
    const { lines, stream } = capture();
    const logger = createLogger({ level: 'TRACE', format: 'json', add_timestamp: false, static_fields: {} }, secrets, stream);
    logger.trace({ headers: { Authorization: 'Bearer eyJhbGciOi.payload.sig' } }, 'request with app-secret-123 inside');
    logger.error(new Error('token app-secret-123 rejected'), 'failed');
    const text = lines.join('');
    expect(text).not.toContain('app-secret-123');
    expect(text).not.toContain('eyJhbGciOi');
    expect(text).toContain('[REDACTED]');
    expect(lines).toHaveLength(2);
  });

  it('writes logfmt with level and msg first and static fields', () => {
    const { lines, stream } = capture();
    const logger = createLogger({ level: 'INFO', format: 'logfmt', add_timestamp: false, static_fields: { '@service': 'sluice' } }, new Secrets(), stream);
    logger.info({ path: 'output', label: '' }, 'The output is connected.');
    logger.debug('hidden');
    expect(lines).toEqual(['level=info msg="The output is connected." @service=sluice path=output label=""\n']);
  });

  it('maps Redpanda Connect level names, case-insensitively', () => {
    const { lines, stream } = capture();
    const logger = createLogger({ level: 'warn', format: 'json', add_timestamp: false, static_fields: {} }, new Secrets(), stream);
    logger.info('no');
    logger.warn('yes');
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['yes']);
    expect(() => createLogger({ level: 'LOUD', format: 'json', add_timestamp: false, static_fields: {} }, new Secrets(), stream)).toThrow(/unknown log level/);
  });
});
