import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSelector, SelectorError } from '../../src/kubernetes/labels.js';

describe('parseSelector', () => {
  const labels = { app: 'seed', tier: 'gpu', replicas: '3', 'openmeter.io/team': 'ml', empty: '' };

  it('selects as Kubernetes does for every operator', () => {
    const cases: [string, boolean][] = [
      ['', true],
      ['app=seed', true],
      ['app==seed', true],
      ['app = seed , tier = gpu', true],
      ['app=web', false],
      ['app!=web', true],
      ['missing!=x', true],
      ['app in (seed, web)', true],
      ['app notin (seed)', false],
      ['missing notin (a)', true],
      ['openmeter.io/team', true],
      ['!openmeter.io/team', false],
      ['!missing', true],
      ['replicas>2', true],
      ['replicas<3', false],
      ['app>2', false],
      ['empty=', true],
      ['app=seed,!missing,tier in (gpu)', true],
    ];
    for (const [text, selected] of cases) expect(parseSelector(text).matches(labels), text).toBe(selected);
    expect(parseSelector('app').matches(undefined)).toBe(false);
  });

  it('refuses what the API server refuses, saying where', () => {
    const cases: [string, RegExp][] = [
      ['app=seed,', /column 10: expected a label key/],
      ['app in ()', /set of values can't be empty/],
      ['app in seed', /expected "\(" after "in"/],
      ['app in (a b)', /expected "," or "\)"/],
      ['=seed', /expected a label key, got "="/],
      ['app=se ed', /expected ","/],
      ['Bad_Prefix.COM/x=1', /the prefix must be a DNS subdomain/],
      ['app=-bad', /invalid label value "-bad"/],
      [`app=${'x'.repeat(64)}`, /invalid label value/],
      ['replicas>two', /must be an integer/],
      ['app seed', /expected an operator after "app"/],
    ];
    for (const [text, message] of cases) {
      expect(() => parseSelector(text), text).toThrow(SelectorError);
      expect(() => parseSelector(text), text).toThrow(message);
    }
  });

  it('reads the words in and notin as a key or a value where one is expected, as Kubernetes does', () => {
    // fast-check found `aa=in` refused: Kubernetes' parser reads in/notin as identifiers in keys and values.
    const words = { aa: 'in', in: 'notin', notin: 'x' };
    const cases: [string, boolean][] = [
      ['aa=in', true],
      ['aa!=in', false],
      ['aa in (in, notin)', true],
      ['aa notin (notin)', true],
      ['in=notin', true],
      ['in in (notin)', true],
      ['notin notin (in)', true],
      ['!in', false],
    ];
    for (const [text, selected] of cases) expect(parseSelector(text).matches(words), text).toBe(selected);
  });

  it('an equality on any label of a set selects it, and its negation does not', () => {
    const name = fc.stringMatching(/^[a-z0-9]([a-z0-9.-]{0,10}[a-z0-9])?$/);
    fc.assert(
      fc.property(fc.dictionary(name, name, { minKeys: 1 }), fc.nat(), (set, i) => {
        const keys = Object.keys(set);
        const key = keys[i % keys.length]!;
        expect(parseSelector(`${key}=${set[key]}`).matches(set)).toBe(true);
        expect(parseSelector(`${key}!=${set[key]}`).matches(set)).toBe(false);
        expect(parseSelector(`${key} in (${set[key]}, zz-other)`).matches(set)).toBe(true);
      }),
    );
  });
});
