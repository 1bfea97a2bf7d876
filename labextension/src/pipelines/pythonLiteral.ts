/**
 * Python literals (a parameter's default as the backend reports it, e.g. `0.5`, `'churn'`, `True`,
 * `[1, 2]`) read as JavaScript values.
 *
 * Pure (no JupyterLab imports) so that jest can test it directly.
 */

/** A value a parameter can hold: what JSON can carry. */
export type LiteralValue = null | boolean | number | string | LiteralValue[] | { [key: string]: LiteralValue };

/** The value of a literal, or `ok: false` when the text is not one this reader understands. */
export type LiteralResult = { ok: true; value: LiteralValue } | { ok: false };

class Unreadable extends Error {}

const ESCAPES: Record<string, string> = {
  n: '\n',
  t: '\t',
  r: '\r',
  '0': '\0',
  '\\': '\\',
  "'": "'",
  '"': '"',
  '\n': ''
};

/** A recursive-descent reader of the literal subset papermill parameters use. */
class Reader {
  private _at = 0;

  constructor(private readonly _text: string) {}

  readAll(): LiteralValue {
    const value = this._value();
    this._space();
    if (this._at !== this._text.length) {
      throw new Unreadable();
    }
    return value;
  }

  private _space(): void {
    while (this._at < this._text.length && /\s/.test(this._text[this._at])) {
      this._at++;
    }
  }

  private _peek(): string {
    this._space();
    return this._text[this._at] ?? '';
  }

  private _expect(char: string): void {
    if (this._peek() !== char) {
      throw new Unreadable();
    }
    this._at++;
  }

  private _value(): LiteralValue {
    const c = this._peek();
    if (c === '[') {
      return this._sequence('[', ']');
    }
    if (c === '{') {
      return this._dict();
    }
    if (c === "'" || c === '"') {
      return this._string();
    }
    const word = /^(True|False|None)\b/.exec(this._text.slice(this._at));
    if (word) {
      this._at += word[0].length;
      return word[0] === 'True' ? true : word[0] === 'False' ? false : null;
    }
    return this._number();
  }

  private _sequence(open: string, close: string): LiteralValue[] {
    this._expect(open);
    const items: LiteralValue[] = [];
    while (this._peek() !== close) {
      items.push(this._value());
      if (this._peek() === ',') {
        this._at++;
      } else if (this._peek() !== close) {
        throw new Unreadable();
      }
    }
    this._at++;
    return items;
  }

  private _dict(): { [key: string]: LiteralValue } {
    this._expect('{');
    const out: { [key: string]: LiteralValue } = {};
    while (this._peek() !== '}') {
      const key = this._value();
      // JSON objects have string keys only; numbers are written as text, anything else is refused.
      if (typeof key !== 'string' && typeof key !== 'number') {
        throw new Unreadable();
      }
      this._expect(':');
      out[String(key)] = this._value();
      if (this._peek() === ',') {
        this._at++;
      } else if (this._peek() !== '}') {
        throw new Unreadable();
      }
    }
    this._at++;
    return out;
  }

  private _string(): string {
    const quote = this._text[this._at];
    if (this._text.startsWith(quote.repeat(3), this._at)) {
      throw new Unreadable(); // triple-quoted strings are left to the raw JSON box
    }
    this._at++;
    let out = '';
    while (this._at < this._text.length) {
      const c = this._text[this._at++];
      if (c === quote) {
        return out;
      }
      if (c === '\n') {
        throw new Unreadable();
      }
      if (c !== '\\') {
        out += c;
        continue;
      }
      const next = this._text[this._at++] ?? '';
      if (next in ESCAPES) {
        out += ESCAPES[next];
      } else if (next === 'x' || next === 'u') {
        const width = next === 'x' ? 2 : 4;
        const hex = this._text.slice(this._at, this._at + width);
        if (!new RegExp(`^[0-9a-fA-F]{${width}}$`).test(hex)) {
          throw new Unreadable();
        }
        out += String.fromCharCode(parseInt(hex, 16));
        this._at += width;
      } else {
        out += '\\' + next; // Python keeps unknown escapes as written
      }
    }
    throw new Unreadable();
  }

  private _number(): number {
    const match = /^[-+]?(\d[\d_]*\.?[\d_]*|\.\d[\d_]*)([eE][-+]?\d+)?/.exec(this._text.slice(this._at));
    if (!match) {
      throw new Unreadable();
    }
    const text = match[0].replace(/_/g, '');
    this._at += match[0].length;
    const value = Number(text);
    if (!Number.isFinite(value)) {
      throw new Unreadable();
    }
    return value;
  }
}

/** Read a Python literal: ints, floats, quoted strings, True/False/None, and lists/dicts of those. */
export function parsePythonLiteral(text: string): LiteralResult {
  try {
    return { ok: true, value: new Reader(text).readAll() };
  } catch (error) {
    if (error instanceof Unreadable) {
      return { ok: false };
    }
    throw error;
  }
}

/** Whether two literal values are the same (deeply; object key order does not matter). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) {
    return true;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) &&
      Array.isArray(b) &&
      a.length === b.length &&
      a.every((item, i) => sameValue(item, b[i]))
    );
  }
  if (typeof a === 'object' && typeof b === 'object' && a !== null && b !== null) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return (
      ka.length === kb.length &&
      ka.every(
        k => k in b && sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
      )
    );
  }
  return false;
}
