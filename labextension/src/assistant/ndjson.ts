/**
 * The assistant's answer stream: NDJSON (one JSON object a line), as `POST /api/assistant/ask` sends it — `status`
 * lines while it works, `delta` lines of text when a language model phrases the answer, then one `answer` line (the
 * answer contract of tests/bench/assistant_score.py) or an `error` line.
 *
 * Pure (no JupyterLab imports): jest feeds it chunks split anywhere, inside a line or a multi-byte character.
 */

/** A record an answer names or takes a figure from: its type and id (the answer contract's citation ids). */
export interface ICitation {
  type: string;
  id: string;
  label?: string;
  project?: string;
  /** Set for records that live under a deployment (monitor windows, retrainings). */
  deployment?: string;
  /** Set for gate decisions (with the decided `version`). */
  model?: string;
  version?: number;
  /** Set for pipeline runs. */
  pipeline?: string;
  [key: string]: unknown;
}

/** One figure of an answer and the record it came from. */
export interface IFact {
  name?: string;
  value: unknown;
  citation: { type: string; id: string };
}

/** The assistant's answer. */
export interface IAnswer {
  /** Markdown: rendered as text only (markdown.ts), never as HTML. */
  text: string;
  facts: IFact[];
  citations: ICitation[];
  /** false: the assistant found nothing to ground an answer on, and says so. */
  grounded: boolean;
  /** true: a free-form question that needs a language model, and none is configured. */
  needs_llm: boolean;
}

/** One line of the stream. */
export type AssistantLine =
  | { type: 'status'; text: string }
  | { type: 'delta'; text: string }
  | { type: 'answer'; answer: IAnswer; conversation_id: string | null }
  | { type: 'error'; error: { code: string; message: string } };

/** Splits decoded text into lines and parses each; keeps a partial last line for the next chunk. */
export class NdjsonParser {
  private _buffer = '';

  /** Feed decoded text; returns the lines completed by it (blank and unreadable lines skipped). */
  feed(chunk: string): AssistantLine[] {
    this._buffer += chunk;
    const lines = this._buffer.split('\n');
    this._buffer = lines.pop() ?? '';
    return lines.map(parseLine).filter((line): line is AssistantLine => line !== null);
  }

  /** The stream ended: the last line when it had no newline. */
  end(): AssistantLine[] {
    const rest = this._buffer;
    this._buffer = '';
    const line = parseLine(rest);
    return line ? [line] : [];
  }
}

/** One NDJSON line as an AssistantLine; null for a blank, unreadable or unknown one. */
export function parseLine(raw: string): AssistantLine | null {
  const text = raw.trim();
  if (!text) {
    return null;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) {
    return null;
  }
  const line = value as Record<string, unknown>;
  switch (line.type) {
    case 'status':
    case 'delta':
      return { type: line.type, text: String(line.text ?? '') };
    case 'answer':
      return isAnswer(line.answer)
        ? {
            type: 'answer',
            answer: normalizeAnswer(line.answer),
            conversation_id: typeof line.conversation_id === 'string' ? line.conversation_id : null
          }
        : null;
    case 'error': {
      const error = (line.error ?? {}) as Record<string, unknown>;
      return {
        type: 'error',
        error: {
          code: typeof error.code === 'string' ? error.code : 'unavailable',
          message: typeof error.message === 'string' ? error.message : 'The assistant could not answer.'
        }
      };
    }
    default:
      return null;
  }
}

function isAnswer(value: unknown): value is Partial<IAnswer> & { text: string } {
  return typeof value === 'object' && value !== null && typeof (value as { text?: unknown }).text === 'string';
}

/** An answer with every field present (a stored turn or a line may leave some out). */
export function normalizeAnswer(value: Partial<IAnswer> & { text?: unknown }): IAnswer {
  const citations = Array.isArray(value.citations)
    ? value.citations.filter(
        (c): c is ICitation => typeof c === 'object' && c !== null && typeof c.type === 'string' && c.id !== undefined
      )
    : [];
  return {
    text: typeof value.text === 'string' ? value.text : '',
    facts: Array.isArray(value.facts) ? value.facts : [],
    citations: citations.map(c => ({ ...c, id: String(c.id) })),
    grounded: value.grounded === true,
    needs_llm: value.needs_llm === true
  };
}

/**
 * Read the stream to its end, handing each line to `onLine` as it arrives. The chunks are decoded with one
 * TextDecoder in stream mode, so a character split across chunks is decoded whole.
 */
export async function readLines(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  onLine: (line: AssistantLine) => void
): Promise<void> {
  const decoder = new TextDecoder();
  const parser = new NdjsonParser();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) {
      break;
    }
    parser.feed(decoder.decode(value, { stream: true })).forEach(onLine);
  }
  parser.feed(decoder.decode()).forEach(onLine);
  parser.end().forEach(onLine);
}
