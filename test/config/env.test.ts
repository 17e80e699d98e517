import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { interpolateEnv } from '../../src/config/env.js';

// The environment of Redpanda Connect's own table test (internal/config/env_vars_test.go).
const ENV: Record<string, string> = {
  BENTHOS_TEST_FOO: '',
  'BENTHOS.TEST.FOO': 'testfoo',
  'BENTHOS.TEST.BAR': 'test\nbar',
  'BENTHOS.TEST.B64': 'Zm9vYmFy',
};

const MISSING = 'required environment variables were not set: ';

/** What Connect's ReplaceEnvVariables returns: the text, or its error message. */
function connect(text: string, env: Record<string, string | undefined> = ENV): string | { error: string } {
  let result;
  try {
    result = interpolateEnv(text, env);
  } catch (err) {
    return { error: (err as Error).message };
  }
  return result.missing.length > 0 ? { error: `${MISSING}[${result.missing.join(' ')}]` } : result.text;
}

describe('interpolateEnv: the table of connect-semantics.md §2.1', () => {
  it.each<[string, string | { error: string }]>([
    ['foo ${DOES_NOT_EXIST:} baz', 'foo  baz'],
    ['${BENTHOS.TEST.FOO:}', 'testfoo'],
    ['foo ${BENTHOS_TEST_FOO:bar} baz', 'foo bar baz'],
    ['foo ${BENTHOS_TEST_FOO} baz', 'foo  baz'],
    ['foo ${BENTHOS_TEST_FOO:http://bar.com?wat=nuh} baz', 'foo http://bar.com?wat=nuh baz'],
    ['foo ${BENTHOS_TEST_FOO:tcp://*:2020} baz', 'foo tcp://*:2020 baz'],
    ['foo ${BENTHOS_TEST_FOO:foo,bar} baz', 'foo foo,bar baz'],
    ['foo ${} baz', 'foo ${} baz'],
    ['foo ${BENTHOS_TEST_FOO:${!metadata:foo}} baz', 'foo ${!metadata:foo} baz'],
    ['${DOES_NOT_EXIST:${BENTHOS.TEST}}', '${BENTHOS.TEST}'],
    ['foo ${{BENTHOS_TEST_FOO:bar}} baz', 'foo ${BENTHOS_TEST_FOO:bar} baz'],
    ['foo ${BENTHOS.TEST.BAR} baz', 'foo test\\nbar baz'],
    ['foo ${BENTHOS_TEST_THIS_DOESNT_EXIST_LOL} baz', { error: `${MISSING}[BENTHOS_TEST_THIS_DOESNT_EXIST_LOL]` }],
    ['foo ${DOES_NOT_EXIST::} baz', 'foo : baz'],
    ['${BENTHOS.TEST.B64:foo|bar|base64decode}', 'foobar'],
    ['${DOES_NOT_EXIST:Zm9vYmFy|base64decode}', 'foobar'],
    ['${BENTHOS.TEST.B64|lolwut}', { error: 'unknown env var decode function: lolwut' }],
  ])('%s', (input, expected) => {
    expect(connect(input)).toEqual(expected);
  });
});

describe('interpolateEnv: the rest of Connect’s upstream table', () => {
  it.each<[string, string | { error: string }]>([
    ['${DOES_NOT_EXIST:}', ''],
    ['${BENTHOS_TEST_FOO:}', ''],
    ['foo ${BENTHOS.TEST.FOO:bar} baz', 'foo testfoo baz'],
    ['foo ${BENTHOS.TEST.FOO} baz', 'foo testfoo baz'],
    ['foo ${BENTHOS_TEST_FOO:http://bar.com} baz', 'foo http://bar.com baz'],
    ['foo ${BENTHOS_TEST_FOO:http://bar.com#wat} baz', 'foo http://bar.com#wat baz'],
    ['foo ${BENTHOS_TEST_FOO:bar} http://bar.com baz', 'foo bar http://bar.com baz'],
    ['foo ${BENTHOS_TEST_FOO} http://bar.com baz', 'foo  http://bar.com baz'],
    ['foo ${BENTHOS_TEST_FOO:wat@nuh.com} baz', 'foo wat@nuh.com baz'],
    ['foo ${BENTHOS_TEST_FOO:${!metadata:foo}${!metadata:bar}} baz', 'foo ${!metadata:foo}${!metadata:bar} baz'],
    [
      'foo ${BENTHOS_TEST_FOO:${!count:foo}-${!timestamp_unix_nano}.tar.gz} baz',
      'foo ${!count:foo}-${!timestamp_unix_nano}.tar.gz baz',
    ],
    ['foo ${{BENTHOS_TEST_FOO}} baz', 'foo ${BENTHOS_TEST_FOO} baz'],
    ['foo ${BENTHOS_TEST_NOPE_A} baz ${BENTHOS_TEST_NOPE_B} buz', { error: `${MISSING}[BENTHOS_TEST_NOPE_A BENTHOS_TEST_NOPE_B]` }],
    ['${BENTHOS.TEST.B64|base64decode}', 'foobar'],
    ['${BENTHOS.TEST.B64:foo|base64decode}', 'foobar'],
    ['${BENTHOS.TEST.B64:|base64decode}', 'foobar'],
    ['${BENTHOS.TEST.B64:ignoreme|base64decode}', 'foobar'],
    ['${DOES_NOT_EXIST:|kaboom|base64decode}', { error: 'failed to decode base64-encoded env var: illegal base64 data at input byte 0' }],
  ])('%s', (input, expected) => {
    expect(connect(input)).toEqual(expected);
  });
});

describe('interpolateEnv: details', () => {
  it('substitutes inside comments and keys, before any YAML parsing', () => {
    expect(interpolateEnv('# ${A}\n${K:key}: ${V:1}\n', { A: 'x' }).text).toBe('# x\nkey: 1\n');
  });

  it('leaves names outside [0-9A-Za-z_.] literal', () => {
    expect(connect('${MY-VAR} ${MY VAR} ${!bloblang}')).toBe('${MY-VAR} ${MY VAR} ${!bloblang}');
  });

  it('does not re-expand values or defaults', () => {
    expect(connect('${X}', { X: '${Y}', Y: 'no' })).toBe('${Y}');
  });

  it('lists missing variables in order of appearance, and substitutes "" for them', () => {
    const result = interpolateEnv('a: ${B}\nb: ${A}\nc: ${B}\n', {});
    expect(result.missing).toEqual(['B', 'A', 'B']);
    expect(result.text).toBe('a: \nb: \nc: \n');
  });

  it('finds only the environment’s own variables, not Object.prototype members', () => {
    expect(interpolateEnv('${constructor} ${toString:d} ${__proto__}', {})).toEqual({
      text: ' d ',
      missing: ['constructor', '__proto__'],
    });
  });

  it('decodes a missing variable with a decode function to "" (and reports it missing)', () => {
    expect(interpolateEnv('x${NOPE|base64decode}y', {})).toEqual({ text: 'xy', missing: ['NOPE'] });
  });

  it('reports every failed decode, with Go’s offsets and never the value itself', () => {
    const env = { SHORT: 'c2VjcmV', BAD: 'c2Vj*mV0', PADDED: 'c2VjcmV0=', OK: 'c2VjcmV0' };
    const attempt = () => interpolateEnv('${SHORT|base64decode} ${BAD|base64decode} ${PADDED|base64decode} ${OK|base64decode}', env);
    expect(attempt).toThrow(
      [
        'failed to decode base64-encoded env var: illegal base64 data at input byte 4',
        'failed to decode base64-encoded env var: illegal base64 data at input byte 4',
        'failed to decode base64-encoded env var: illegal base64 data at input byte 8',
      ].join('\n'),
    );
    expect(attempt).not.toThrow(/c2Vj/);
  });

  it('decodes padded base64 and ignores line breaks inside it, as Go does', () => {
    expect(connect('${A|base64decode}|${B|base64decode}', { A: 'Zm9vYg==', B: 'Zm9v\r\nYmFy' })).toBe('foob|foobar');
  });
});

// Text that cannot contain a reference: no `$` at all.
const plainText = fc.string({ unit: fc.constantFrom('a', 'b', ' ', ':', '{', '}', '\n', '|', '#', '"', 'é') });
const name = fc.stringMatching(/^[0-9A-Za-z_.]{1,12}$/);
// A default may hold anything but `}` (and `|`, which would split off a decode function).
const fallback = fc.string({ unit: fc.constantFrom('a', 'Z', '0', ' ', ':', '/', '?', '$', '{', '\n', '#', '-', 'µ') });

describe('interpolateEnv properties', () => {
  it('leaves text without `${` unchanged', () => {
    fc.assert(
      fc.property(fc.string(), fc.dictionary(name, fc.string()), (text, env) => {
        fc.pre(!text.includes('${'));
        expect(interpolateEnv(text, env)).toEqual({ text, missing: [] });
      }),
    );
  });

  it('`${NAME:default}` yields the default when NAME is unset or empty, for any default without `}`', () => {
    fc.assert(
      fc.property(name, fallback, fc.constantFrom(undefined, ''), plainText, (n, d, value, around) => {
        // Excludes a `${` the substitution itself would form with the text around it.
        fc.pre(!`${around}${n}:${d}${around}`.includes('${') && !around.includes('$'));
        const env = value === undefined ? {} : { [n]: value };
        expect(interpolateEnv(`${around}\${${n}:${d}}${around}`, env)).toEqual({
          text: `${around}${d.replaceAll('\n', '\\n')}${around}`,
          missing: [],
        });
      }),
    );
  });

  it('`${NAME}` and `${NAME:default}` yield a set, non-empty value whatever the default', () => {
    fc.assert(
      fc.property(name, fc.string({ minLength: 1 }), fallback, (n, value, d) => {
        fc.pre(!value.includes('${') && !d.includes('$'));
        const expected = value.replaceAll('\n', '\\n');
        expect(interpolateEnv(`\${${n}}`, { [n]: value }).text).toBe(expected);
        expect(interpolateEnv(`\${${n}:${d}}`, { [n]: value }).text).toBe(expected);
      }),
    );
  });

  it('values with newlines never add lines', () => {
    fc.assert(
      fc.property(plainText, name, fc.string({ unit: fc.constantFrom('x', '\n', '\r', ' ', '{') }), (text, n, value) => {
        fc.pre(!text.includes('$'));
        const template = `${text}\${${n}}${text}`;
        const lines = (s: string) => s.split('\n').length;
        expect(lines(interpolateEnv(template, { [n]: value }).text)).toBe(lines(template));
      }),
    );
  });

  it('`${{X}}` round-trips to `${X}` whatever the environment holds', () => {
    fc.assert(
      fc.property(name, fc.option(fallback, { nil: undefined }), fc.dictionary(name, fc.string()), (n, d, env) => {
        fc.pre(d === undefined || !d.includes('$'));
        const reference = d === undefined ? `${n}` : `${n}:${d}`;
        expect(interpolateEnv(`\${{${reference}}}`, env)).toEqual({ text: `\${${reference}}`, missing: [] });
      }),
    );
  });

  it('base64decode inverts base64 for any value', () => {
    fc.assert(
      fc.property(name, fc.string(), (n, value) => {
        const encoded = Buffer.from(value, 'utf8').toString('base64');
        const decoded = Buffer.from(encoded, 'base64').toString('utf8');
        expect(interpolateEnv(`\${${n}|base64decode}`, { [n]: encoded }).text).toBe(decoded.replaceAll('\n', '\\n'));
      }),
    );
  });
});

// Redpanda Connect's patterns, as sluice used them before interpolation became a linear scan: the
// oracle the scan must agree with.
const CONNECT_ENV_VAR = /\$\{[0-9A-Za-z_.]+(:((\$\{[^}]+\})|[^}])*)?(?:\|[0-9A-Za-z]+)?\}/g;
const CONNECT_ESCAPED = /\$\{(\{[0-9A-Za-z_.]+(:((\$\{[^}]+\})|[^}])*)?\})\}/g;
function connectInterpolate(text: string, env: Record<string, string>): { text: string; missing: string[] } {
  const missing: string[] = [];
  const replaced = text.replace(CONNECT_ENV_VAR, (match) => {
    const inner = match.slice(2, -1);
    const colon = inner.indexOf(':');
    const pipe = (t: string) => (t.lastIndexOf('|') === -1 ? [t, undefined] : [t.slice(0, t.lastIndexOf('|')), t.slice(t.lastIndexOf('|') + 1)]);
    let value: string;
    let fn: string | undefined;
    if (colon === -1) {
      const [n, f] = pipe(inner);
      fn = f;
      if (!Object.hasOwn(env, n!)) missing.push(n!);
      value = env[n!] ?? '';
    } else {
      const [d, f] = pipe(inner.slice(colon + 1));
      fn = f;
      const found = Object.hasOwn(env, inner.slice(0, colon)) ? env[inner.slice(0, colon)] : undefined;
      value = found === undefined || found === '' ? d! : found;
    }
    if (fn !== undefined) throw new Error('decoder');
    return value.replaceAll('\n', '\\n');
  });
  return { text: replaced.replace(CONNECT_ESCAPED, (_m, inner: string) => '$' + inner), missing };
}

describe('interpolateEnv: linear, and as Connect where Connect is not wrong (issue 12 items 8, 12)', () => {
  it('agrees with Connect’s patterns on any text without a decode function', () => {
    const unit = fc.constantFrom('$', '{', '}', '${', '}}', 'A', 'B', 'C', ':', '.', 'x', '\n', ' ', '!');
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 40 }), (text) => {
        const env = { A: 'one', B: '', C: 'x\ny' };
        const mine = interpolateEnv(text, env);
        expect({ text: mine.text, missing: mine.missing }).toEqual(connectInterpolate(text, env));
      }),
      { numRuns: 3000 },
    );
  });

  it('takes linear time: `${A:` followed by 200,000 `${` (Connect’s regex backtracks quadratically: 100,000 took 8.4 s to 38 s)', () => {
    const text = '${A:' + '${'.repeat(200_000);
    const started = process.hrtime.bigint();
    expect(interpolateEnv(text, {}).text).toBe(text);
    // Closed, the default is every `${` (the oracle agrees on a short one).
    expect(interpolateEnv(`${text}}`, {}).text).toBe('${'.repeat(200_000));
    expect(interpolateEnv('${A:${${${}', {}).text).toBe(connectInterpolate('${A:${${${}', {}).text);
    // A linear scan of 400 KB takes milliseconds; the bound only has to rule out quadratic.
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(1000);
  });

  it('`${A:hello|world}` defaults to `hello|world`: after a default only a known decode function is one', () => {
    expect(interpolateEnv('${A:hello|world}', {})).toEqual({ text: 'hello|world', missing: [] });
    expect(interpolateEnv('${A:aGk=|base64decode}', {})).toEqual({ text: 'hi', missing: [] });
    expect(() => interpolateEnv('${A|world}', { A: 'x' })).toThrow('unknown env var decode function: world');
  });

  it('reports a default that holds another variable’s reference: used as written, not interpolated', () => {
    expect(interpolateEnv('url: ${A:${B}}', { B: 'set' })).toEqual({
      text: 'url: ${B}',
      missing: [],
      literalDefaults: [{ offset: 5, reference: '${A:${B}}', inner: 'B' }],
    });
    // Bloblang interpolations in defaults are not variable references.
    expect(interpolateEnv('${A:${!metadata:foo}}', {}).literalDefaults).toBeUndefined();
  });
});
