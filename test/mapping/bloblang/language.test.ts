// Bloblang constructs one by one: statements, paths, literals, operators, control flow, lambdas,
// errors; and the rule that tells Bloblang from JSONata.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Message } from '../../../src/engine/message.js';
import { BloblangSyntaxError, compileBloblangMapping, compileBloblangQuery, DELETED, NOTHING } from '../../../src/mapping/bloblang/index.js';
import { detectMappingLanguage, detectQueryLanguage } from '../../../src/mapping/language.js';

const sources = { now: () => new Date('2025-01-01T00:00:00Z'), uuidV4: () => '11111111-1111-4111-8111-111111111111' };

function map(source: string, body: unknown = {}, metadata: Record<string, unknown> = {}) {
  const message = typeof body === 'string' ? Message.fromBytes(body, metadata) : Message.fromJSON(body, metadata);
  return compileBloblangMapping(source).execute({ message, batch: [message], index: 0 }, sources);
}
const root = (source: string, body?: unknown, metadata?: Record<string, unknown>) => map(source, body, metadata).root;
const query = (source: string, body: unknown = {}) => {
  const message = Message.fromJSON(body);
  return compileBloblangQuery(source).evaluate({ message, batch: [message], index: 0 }, sources);
};
const fails = (source: string, body?: unknown) => {
  try {
    map(source, body);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`expected ${source} to fail`);
};
const syntax = (source: string): BloblangSyntaxError => {
  try {
    compileBloblangMapping(source);
  } catch (err) {
    if (err instanceof BloblangSyntaxError) return err;
    throw err;
  }
  throw new Error(`expected ${source} not to parse`);
};

describe('statements', () => {
  it('assigns root, nested root paths, this.x (the new document) and bare paths', () => {
    expect(root('root = this.a', { a: 1 })).toBe(1);
    expect(root('root.a.b = 1\nroot.a.c = 2\nthis.d = 3\ne.f = 4')).toEqual({ a: { b: 1, c: 2 }, d: 3, e: { f: 4 } });
    expect(root('root = this\nroot.x = deleted()', { x: 1, y: 2 })).toEqual({ y: 2 });
  });

  it('never changes the input document when assigning into a copy of it', () => {
    const body = { a: { b: 1 } };
    const message = Message.fromJSON(body);
    compileBloblangMapping('root = this\nroot.a.b = 2').execute({ message, batch: [message], index: 0 }, sources);
    expect(message.json()).toEqual({ a: { b: 1 } });
  });

  it('sets, reads and deletes metadata; meta() reads the input, @ the message being built', () => {
    const result = map('meta out = "x"\nmeta gone = deleted()\nroot.a = @out\nroot.b = meta("out")\nroot.c = @in', {}, { in: 'i', gone: 'g' });
    expect(result.root).toEqual({ a: 'x', b: null, c: 'i' });
    expect(result.meta).toEqual({ in: 'i', out: 'x' });
    expect(map('meta = deleted()', {}, { a: 1 }).meta).toEqual({});
    expect(map('meta "a b" = 1\n@c = 2').meta).toEqual({ 'a b': 1, c: 2 });
  });

  it('declares variables with let and reads them with $', () => {
    expect(root('let x = 2\nlet "y" = $x * 3\nroot = $y')).toBe(6);
    expect(fails('root = $nope')).toBe('failed assignment (line 1): variable nope undefined');
  });

  it('runs if / else if / else statements', () => {
    const source = 'if this.n > 10 {\n  root.size = "big"\n} else if this.n > 5 {\n  root.size = "mid"\n} else {\n  root.size = "small"\n}';
    expect(root(source, { n: 11 })).toEqual({ size: 'big' });
    expect(root(source, { n: 6 })).toEqual({ size: 'mid' });
    expect(root(source, { n: 1 })).toEqual({ size: 'small' });
  });

  it('defines maps and applies them', () => {
    const source = 'map person {\n  root.name = this.n.uppercase()\n}\nroot.people = this.list.map_each(p -> p.apply("person"))';
    expect(root(source, { list: [{ n: 'a' }, { n: 'b' }] })).toEqual({ people: [{ name: 'A' }, { name: 'B' }] });
  });

  it('imports maps from a file', () => {
    const mapping = compileBloblangMapping('import "lib.blobl"\nroot = this.apply("twice")', { importFile: () => 'map twice {\n  root = this.n * 2\n}' });
    const message = Message.fromJSON({ n: 21 });
    expect(mapping.execute({ message, batch: [message], index: 0 }, sources).root).toBe(42);
  });

  it('treats a lone query as root = query, and keeps the body when root is never assigned', () => {
    expect(root('this.a.uppercase()', { a: 'x' })).toBe('X');
    expect(root('meta a = 1')).toBe(NOTHING);
    expect(root('root = deleted()')).toBe(DELETED);
  });
});

describe('paths and literals', () => {
  it('reads quoted segments, array indexes and missing paths as null', () => {
    const body = { metadata: { annotations: { 'openmeter.io/subject': 's' } }, list: [1, 2, 3] };
    expect(query('this.metadata.annotations."openmeter.io/subject"', body)).toBe('s');
    expect(query('this.list.1', body)).toBe(2);
    expect(query('this.list.-1', body)).toBe(3);
    expect(query('this.missing.deeper', body)).toBeNull();
    expect(query('this.(list | missing)', body)).toEqual([1, 2, 3]);
  });

  it('builds objects with static and dynamic keys, trailing commas, comments and skipped values', () => {
    const source = 'root = {\n  "a": 1, # a comment\n  this.k: 2,\n  "gone": deleted(),\n  "none": if false { 1 },\n}';
    expect(root(source, { k: 'dyn' })).toEqual({ a: 1, dyn: 2 });
    expect(fails('root = { this.k: 1 }', { k: 5 })).toMatch(/invalid key type: number/);
  });

  it('builds arrays and reads strings with escapes and triple quotes', () => {
    expect(root('root = [1, "two", [3], {"four": 4},]')).toEqual([1, 'two', [3], { four: 4 }]);
    expect(root('root = "a\\tb\\u00e9"')).toBe('a\tbé');
    expect(root('root = """raw "quoted" \\n"""')).toBe('raw "quoted" \\n');
  });
});

describe('operators', () => {
  it('follows Connect: * / % and | bind tightest, then + -, comparisons, then && and || left to right', () => {
    expect(query('2 + 3 * 4')).toBe(14);
    expect(query('10 - 4 - 3')).toBe(3);
    expect(query('5 / 2')).toBe(2.5);
    expect(query('7 % 3')).toBe(1);
    expect(query('1 + 2 == 3')).toBe(true);
    expect(query('true || false && false')).toBe(false); // (true || false) && false
    expect(query('null | "fallback"')).toBe('fallback');
    expect(query('!true == false')).toBe(true);
    expect(query('-this.n', { n: 3 })).toBe(-3);
  });

  it('agrees with JavaScript on + - * / over integers', () => {
    const operand = fc.integer({ min: -50, max: 50 }).map((n) => (n < 0 ? `(${n})` : String(n)));
    const expression = fc.tuple(operand, fc.array(fc.tuple(fc.constantFrom('+', '-', '*', '/'), operand), { maxLength: 6 }));
    fc.assert(
      fc.property(expression, ([first, rest]) => {
        const text = first + rest.map(([op, n]) => ` ${op} ${n}`).join('');
        let expected: unknown;
        try {
          expected = new Function(`return ${text}`)();
        } catch {
          return;
        }
        const divides = rest.some(([op, n]) => op === '/' && Number(n.replace(/[()]/g, '')) === 0);
        if (divides) expect(() => query(text)).toThrow(/attempted to divide by zero/);
        else expect(query(text)).toBe(expected);
      }),
    );
  });

  it('compares across types by value and refuses to order mismatched types', () => {
    expect(query('1 == 1.0')).toBe(true);
    expect(query('"a" == 1')).toBe(false);
    expect(query('[1, {"a": 2}] == [1, {"a": 2}]')).toBe(true);
    expect(query('"b" > "a"')).toBe(true);
    expect(() => query('"a" > 1')).toThrow('cannot compare types string (from string literal) and number (from number literal)');
  });

  it('adds numbers or strings only, and says which values clashed', () => {
    expect(query('"a" + "b"')).toBe('ab');
    expect(fails('root = this.a + 1', { a: 'x' })).toBe('failed assignment (line 1): cannot add types string (from field `this.a`) and number (from number literal)');
    expect(fails('root = this.a / 0', { a: 1 })).toMatch(/attempted to divide by zero/);
    expect(fails('root = this.a && true', { a: 1 })).toMatch(/expected bool value, got number from field `this.a` \(1\)/);
  });
});

describe('control flow and lambdas', () => {
  it('evaluates if expressions, with nothing when no branch matches', () => {
    expect(query('if this.n > 1 { "big" } else if this.n > 0 { "one" } else { "none" }', { n: 1 })).toBe('one');
    expect(query('if false { 1 }')).toBe(NOTHING);
    expect(root('root.a = if false { 1 }')).toBe(NOTHING);
  });

  it('matches literals, boolean patterns and _ with and without a subject', () => {
    const withSubject = 'match this.v {\n  "a" => "lit"\n  this.has_prefix("b") => "prefix " + this\n  _ => "other"\n}';
    expect(query(withSubject, { v: 'a' })).toBe('lit');
    expect(query(withSubject, { v: 'bee' })).toBe('prefix bee');
    expect(query(withSubject, { v: 'z' })).toBe('other');
    expect(query('match { this.n > 5 => "big", _ => "small" }', { n: 9 })).toBe('big');
    expect(query('match this.n { 1 => "one" }', { n: 2 })).toBe(NOTHING);
  });

  it('binds named captures and keeps this for the outer context; without a name, this is the item', () => {
    const body = { items: [{ v: 1 }, { v: 2 }], offset: 10 };
    expect(query('this.items.map_each(i -> i.v + this.offset)', body)).toEqual([11, 12]);
    expect(query('this.items.map_each(this.v * 2)', body)).toEqual([2, 4]);
    expect(query('this.items.filter(i -> i.v > 1).length()', body)).toBe(1);
    expect(query('this.items.fold(0, t -> t.tally + t.value.v)', body)).toBe(3);
  });

  it('recovers from errors with catch and or, and passes them on otherwise', () => {
    expect(query('this.a.number().catch(0)', { a: 'x' })).toBe(0);
    expect(query('this.a.number().catch(e -> e)', { a: 'x' })).toMatch(/expected number value/);
    expect(query('this.a.or("default")', {})).toBe('default');
    expect(query('this.a.uppercase().or("d")', { a: 1 })).toBe('d');
    expect(fails('root = this.a.uppercase()', { a: 1 })).toBe('failed assignment (line 1): expected string value, got number from field `this.a` (1)');
  });

  it('formats strings with .format() as Go does', () => {
    expect(query('"%s is %d years and %.2f%% done %v".format("x", 3, 12.345, [1])')).toBe('x is 3 years and 12.35% done [1]');
  });
});

describe('errors with line and column', () => {
  it('points at the offending token', () => {
    const e = syntax('root = {\n  "time": ,\n}');
    expect([e.line, e.column]).toEqual([2, 11]);
    expect(e.message).toContain('expected a value for key "time"');
  });

  it('names // comments and suggests #', () => {
    const e = syntax('let a = 1\n// note\nroot = $a');
    expect([e.line, e.column, e.hint]).toEqual([2, 1, 'use # for comments']);
  });

  it('refuses unknown functions and methods, suggesting the nearest', () => {
    expect(syntax('root = uuid_v()').message).toBe("line 1 char 8: unrecognised function 'uuid_v' (did you mean uuid_v4?)");
    expect(syntax('root = this.a.uppercas()').message).toBe("line 1 char 15: unrecognised method 'uppercas' (did you mean uppercase?)");
    expect(syntax('root = this.a.trim_prefix()').message).toContain('missing parameter prefix');
  });

  it('names the line of a failing statement', () => {
    expect(fails('root.a = 1\nroot.b = this.x.number()', { x: 'no' })).toMatch(/^failed assignment \(line 2\): /);
    expect(fails('root = this.a', 'not json')).toMatch(/unable to reference message as structured/);
  });
});

describe('telling Bloblang from JSONata', () => {
  it('reads Bloblang statements as Bloblang', () => {
    for (const source of ['root = this', 'root.a.b = 1', 'this.x = 1', 'meta k = "v"', 'meta = deleted()', '@k = 1', 'let x = 1\nroot = $x', 'map m {\n}', 'import "a.blobl"', '# comment\nroot = 1', 'root."a b" = 1']) {
      expect(detectMappingLanguage(source), source).toBe('bloblang');
    }
  });

  it('reads JSONata as JSONata, the shipped examples included', () => {
    for (const source of ['{ "id": $uuid_v4(), "name": name }', '(\n  $x := 1;\n  { "a": $x }\n)', '$deleted()', 'a = b', '$map(items, function($v) { $v * 2 })', '{"root": 1}', 'items[price > 1 and qty in [1, 2]]']) {
      expect(detectMappingLanguage(source), source).toBe('jsonata');
    }
  });

  it('reads queries with bare function calls, @, this or lambdas as Bloblang', () => {
    for (const source of ['meta("x")', 'json("a")', 'this.a', '@key', 'content().hash("xxhash64")', 'error()', 'errored()', 'meta("Content-Type").lowercase() == "x"', '"false" == "true"', 'true && false']) {
      expect(detectQueryLanguage(source), source).toBe('bloblang');
    }
    for (const source of ['$meta("x")', '$error_message()', 'name', '"a" = "b"', '"a" != "b"', 'a.b & "x"', '']) {
      expect(detectQueryLanguage(source), source).toBe('jsonata');
    }
  });
});
