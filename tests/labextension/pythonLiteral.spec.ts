import { parsePythonLiteral, sameValue } from '../../labextension/src/pipelines/pythonLiteral';

const value = (text: string) => {
  const result = parsePythonLiteral(text);
  if (!result.ok) {
    throw new Error(`not read: ${text}`);
  }
  return result.value;
};

describe('python literals', () => {
  it.each([
    ['0.5', 0.5],
    ['3', 3],
    ['-7', -7],
    ['+2', 2],
    ['1_000', 1000],
    ['1e-3', 0.001],
    ['.25', 0.25],
    ['2.', 2]
  ])('reads the number %s', (text, expected) => {
    expect(value(text)).toBe(expected);
  });

  it('reads strings in either quote, with escapes', () => {
    expect(value("'churn'")).toBe('churn');
    expect(value('"churn"')).toBe('churn');
    expect(value("'it\\'s'")).toBe("it's");
    expect(value("'a\\nb\\tc\\\\'")).toBe('a\nb\tc\\');
    expect(value("'\\x41\\u00e9'")).toBe('Aé');
    expect(value("''")).toBe('');
  });

  it('reads True, False and None', () => {
    expect(value('True')).toBe(true);
    expect(value('False')).toBe(false);
    expect(value('None')).toBeNull();
  });

  it('reads lists and dicts of those, nested', () => {
    expect(value('[1, 2]')).toEqual([1, 2]);
    expect(value("[1, 'a', None, [True]]")).toEqual([1, 'a', null, [true]]);
    expect(value("{'a': 1, 'b': [0.5, 'x'], 2: False}")).toEqual({ a: 1, b: [0.5, 'x'], 2: false });
    expect(value('[]')).toEqual([]);
    expect(value('{}')).toEqual({});
    expect(value('[1, 2,]')).toEqual([1, 2]);
    expect(value('  [ 1 ,2 ]  ')).toEqual([1, 2]);
  });

  it.each([
    'math.pi',
    '1 + 2',
    'np.array([1])',
    "'unterminated",
    "'''triple'''",
    '[1, 2',
    '{1}',
    "{'a' 1}",
    'Truex',
    '(1, 2)',
    '',
    '[1 2]',
    "{(1): 2}"
  ])('refuses %p', text => {
    expect(parsePythonLiteral(text).ok).toBe(false);
  });
});

describe('same value', () => {
  it('compares deeply, ignoring key order', () => {
    expect(sameValue({ a: [1, { b: 2 }], c: 'x' }, { c: 'x', a: [1, { b: 2 }] })).toBe(true);
    expect(sameValue([1, 2], [2, 1])).toBe(false);
    expect(sameValue({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(sameValue(null, {})).toBe(false);
    expect(sameValue([], {})).toBe(false);
    expect(sameValue(1, 1.0)).toBe(true);
  });
});
