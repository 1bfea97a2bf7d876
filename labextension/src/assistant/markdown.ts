/**
 * The Markdown of an answer, parsed into blocks and inline runs that the chat renders as React text nodes only.
 *
 * An answer quotes record text (run names, notes, alert titles) that anyone with write access to a project can
 * set, so no part of it is ever handed to the browser as HTML: there is no innerHTML and no HTML pass-through, a
 * `<script>` or `<img onerror=...>` in an answer is shown as those characters. Links are not rendered either (an
 * answer's records are reached through its citation chips). What is understood is what answers use: paragraphs,
 * `#` headings, `-`/`*`/`1.` lists, fenced code blocks (offered as a new notebook cell), `code`, **bold**, *italic*.
 *
 * Pure (no JupyterLab imports), tested by jest.
 */

/** A run of text inside a block. */
export type Inline =
  | { kind: 'text'; text: string }
  | { kind: 'code'; text: string }
  | { kind: 'strong'; children: Inline[] }
  | { kind: 'em'; children: Inline[] };

/** A block of an answer. */
export type Block =
  | { kind: 'paragraph'; children: Inline[] }
  | { kind: 'heading'; level: number; children: Inline[] }
  | { kind: 'list'; ordered: boolean; items: Inline[][] }
  | { kind: 'code'; language: string; text: string };

const FENCE = /^\s{0,3}(```+|~~~+)\s*([\w+-]*)\s*$/;
const HEADING = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const BULLET = /^\s{0,3}[-*+]\s+(.*)$/;
const NUMBERED = /^\s{0,3}\d{1,9}[.)]\s+(.*)$/;

/** The blocks of `text`. */
export function parseMarkdown(text: string): Block[] {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const blocks: Block[] = [];
  let paragraph: string[] = [];
  const flush = () => {
    if (paragraph.length > 0) {
      blocks.push({ kind: 'paragraph', children: parseInline(paragraph.join('\n')) });
      paragraph = [];
    }
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fence = FENCE.exec(line);
    if (fence) {
      flush();
      const body: string[] = [];
      i++;
      while (i < lines.length && !lines[i].trim().startsWith(fence[1])) {
        body.push(lines[i]);
        i++;
      }
      blocks.push({ kind: 'code', language: fence[2], text: body.join('\n') });
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      flush();
      blocks.push({ kind: 'heading', level: heading[1].length, children: parseInline(heading[2]) });
      continue;
    }
    const bullet = BULLET.exec(line);
    const numbered = bullet ? null : NUMBERED.exec(line);
    if (bullet || numbered) {
      flush();
      const ordered = !bullet;
      const item = (bullet ?? numbered)![1];
      const last = blocks[blocks.length - 1];
      if (last && last.kind === 'list' && last.ordered === ordered && previousWasItem(lines, i)) {
        last.items.push(parseInline(item));
      } else {
        blocks.push({ kind: 'list', ordered, items: [parseInline(item)] });
      }
      continue;
    }
    if (!line.trim()) {
      flush();
      continue;
    }
    paragraph.push(line.trim());
  }
  flush();
  return blocks;
}

function previousWasItem(lines: string[], i: number): boolean {
  return i > 0 && (BULLET.test(lines[i - 1]) || NUMBERED.test(lines[i - 1]));
}

/**
 * The inline runs of a block's text. Code spans are taken out first (nothing inside one is read) and stand in the
 * text as placeholders while bold and italic are found, so `**`name`**` is a bold code span.
 */
export function parseInline(text: string): Inline[] {
  const spans: string[] = [];
  const masked = text
    .replace(/[\uE000\uE001]/g, '')
    .replace(/(`+)([\s\S]*?[^`])\1(?!`)/g, (_all, _ticks, body: string) => {
      spans.push(body.replace(/^ (.*) $/, '$1'));
      return `\uE000${spans.length - 1}\uE001`;
    });
  return unmask(emphasis(masked), spans);
}

function unmask(runs: Inline[], spans: string[]): Inline[] {
  const out: Inline[] = [];
  for (const run of runs) {
    if (run.kind === 'strong' || run.kind === 'em') {
      out.push({ kind: run.kind, children: unmask(run.children, spans) });
      continue;
    }
    run.text.split(/\uE000(\d+)\uE001/).forEach((part, i) => {
      if (i % 2 === 1) {
        out.push({ kind: 'code', text: spans[Number(part)] });
      } else if (part) {
        out.push({ kind: 'text', text: part });
      }
    });
  }
  return out;
}

function emphasis(text: string): Inline[] {
  if (!text) {
    return [];
  }
  const strong = /\*\*(?=\S)([\s\S]*?\S)\*\*|__(?=\S)([\s\S]*?\S)__/.exec(text);
  const em = /\*(?=[^\s*])([^*]*?[^\s*])\*|(?<![\w])_(?=\S)([^_]*?\S)_(?![\w])/.exec(text);
  const first = strong && (!em || strong.index <= em.index) ? strong : em;
  if (!first) {
    return [{ kind: 'text', text }];
  }
  const inner = first[1] ?? first[2];
  const node: Inline =
    first === strong ? { kind: 'strong', children: emphasis(inner) } : { kind: 'em', children: emphasis(inner) };
  return [
    ...emphasis(text.slice(0, first.index)),
    node,
    ...emphasis(text.slice(first.index + first[0].length))
  ];
}

/** The code blocks of an answer (offered as new notebook cells). */
export function codeBlocks(text: string): string[] {
  return parseMarkdown(text)
    .filter((b): b is Extract<Block, { kind: 'code' }> => b.kind === 'code')
    .map(b => b.text);
}
