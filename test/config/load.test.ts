// loadConfigText in-process: where problems point, and inputs that must become problems, not throws.
import { describe, expect, it } from 'vitest';
import { registry } from '../../src/components/index.js';
import { loadConfigText, type LoadOptions } from '../../src/config/load.js';
import { formatProblem } from '../../src/config/problems.js';

const load = (text: string, options: Partial<LoadOptions> = {}) => loadConfigText(text, 'c.yaml', { registry, env: {}, ...options });
const lines = (text: string, options: Partial<LoadOptions> = {}) => load(text, options).problems.map(formatProblem);

/** 1-based line and column of the first `@` in `text`. */
function marker(text: string): { line: number; column: number } {
  const before = text.slice(0, text.indexOf('@')).split('\n');
  return { line: before.length, column: before.at(-1)!.length + 1 };
}

describe('locate: a position inside a string value maps to the same character in the file', () => {
  const MAPPING = ['input', 'generate', 'mapping'];
  it.each([
    ['plain', 'input:\n  generate:\n    mapping: ab @c\n'],
    ['double-quoted', 'input:\n  generate:\n    mapping: "ab @c"\n'],
    ['single-quoted', "input:\n  generate:\n    mapping: 'ab @c'\n"],
    ['block literal', 'input:\n  generate:\n    mapping: |\n      first\n      ab @c\n'],
    ['block literal, strip chomping', 'input:\n  generate:\n    mapping: |-\n      first\n      ab @c\n'],
    ['block literal with a comment on its header', 'input:\n  generate:\n    mapping: | # the body\n      first\n      ab @c\n'],
    ['block literal with an indentation indicator', 'input:\n  generate:\n    mapping: |2\n        first\n        ab @c\n'],
    ['block literal starting with a blank line', 'input:\n  generate:\n    mapping: |\n\n      first\n      ab @c\n'],
    ['block literal with deeper lines', 'input:\n  generate:\n    mapping: |\n      (\n        ab @c\n      )\n'],
  ])('%s', (_, text) => {
    const loaded = load(text);
    const value = loaded.config ? String((loaded.config.input.generate as { mapping: string }).mapping) : '';
    expect(value).toContain('@');
    // Where '@' is in the value, as JSONata would report it (1-based).
    const inner = marker(value);
    expect(loaded.locate(MAPPING, inner)).toEqual(marker(text));
  });
});

describe('loadConfigText turns bad input into problems', () => {
  it('stops at a failed env decode instead of validating text still holding `${...}`', () => {
    expect(lines('input:\n  generate:\n    mapping: "1"\n    count: ${N|lolwut}\n    interval: ${M|rot13}\n', { env: {} })).toEqual([
      'c.yaml(1,1) unknown env var decode function: lolwut',
      'c.yaml(1,1) unknown env var decode function: rot13',
    ]);
  });

  it('reports an unset variable named like an Object.prototype member as missing', () => {
    expect(lines('input:\n  generate:\n    mapping: "${constructor}1"\n')).toEqual([
      'c.yaml(1,1) required environment variables were not set: [constructor]',
    ]);
  });

  it('an unresolved alias', () => {
    expect(lines('input: *nowhere\n')).toEqual([
      'c.yaml(1,1) YAML error: Unresolved alias (the anchor must be set before the alias): nowhere',
    ]);
  });

  it('an alias bomb', () => {
    const bomb = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 10; i++) bomb.push(`a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]`);
    expect(lines(`${bomb.join('\n')}\n`)).toEqual(['c.yaml(1,1) YAML error: Excessive alias count indicates a resource exhaustion attack']);
  });

  it('a --set whose path runs through a scalar', () => {
    expect(lines('input:\n  generate:\n    mapping: "1"\n', { set: ['input.generate.mapping.deeper=1'] })).toEqual([
      "c.yaml(1,1) invalid set expression 'input.generate.mapping.deeper=1': Expected YAML collection at mapping. Remaining path: deeper",
    ]);
  });

  it('a --set on a document that is a scalar', () => {
    expect(lines('just text\n', { set: ['http.enabled=false'] })[0]).toMatch(/^c\.yaml\(1,1\) invalid set expression 'http\.enabled=false': /);
  });

  it('names every allowed type of a union', () => {
    expect(lines('pipeline:\n  processors:\n    - mapping: 3\n')).toEqual(['c.yaml(3,16) pipeline.processors[0].mapping: expected string or object, got number 3']);
  });
});
