/**
 * The Chat's pure logic: the NDJSON answer stream read from chunks split anywhere, each citation type mapped to the
 * panel and arguments that open it, and answers rendered as text only (HTML in an answer stays inert).
 */
import React from 'react';
import { renderToStaticMarkup } from 'react-dom/server';

import { answerAsText, citationLabel, citationTarget, plainCitationLabel } from '../../labextension/src/assistant/citations';
import { codeBlocks, parseInline, parseMarkdown } from '../../labextension/src/assistant/markdown';
import { AssistantLine, NdjsonParser, parseLine, readLines } from '../../labextension/src/assistant/ndjson';
import { insertCodeCell, isNotebookLike } from '../../labextension/src/assistant/notebookCell';
import { AnswerView, Markdown } from '../../labextension/src/assistant/widgets/AnswerView';

const RUN = '0123456789abcdef0123456789abcdef';
const ANSWER = {
  text: 'Run `woe-binning-gbm-013` has **auc 0.8318**.',
  facts: [{ name: 'auc', value: 0.8318, citation: { type: 'run', id: RUN } }],
  citations: [{ type: 'run', id: RUN, label: 'woe-binning-gbm-013', project: 'acme' }],
  grounded: true,
  needs_llm: false
};
const STREAM =
  '{"type": "status", "text": "Reading the records you can open"}\n' +
  '\n' +
  '{"type": "delta", "text": "Run "}\n' +
  `${JSON.stringify({ type: 'answer', answer: ANSWER, conversation_id: 'c-1' })}\n`;

describe('NDJSON answer stream', () => {
  it('gives the same lines however the text is split, keeping a partial line for the next chunk', () => {
    const whole = new NdjsonParser().feed(STREAM);
    expect(whole.map(l => l.type)).toEqual(['status', 'delta', 'answer']);
    for (let size = 1; size <= 40; size += 3) {
      const parser = new NdjsonParser();
      const got: AssistantLine[] = [];
      for (let i = 0; i < STREAM.length; i += size) {
        got.push(...parser.feed(STREAM.slice(i, i + size)));
      }
      got.push(...parser.end());
      expect(got).toEqual(whole);
    }
  });

  it('reads the last line without a newline at the end of the stream', () => {
    const parser = new NdjsonParser();
    expect(parser.feed('{"type": "status", "text": "a"}\n{"type": "error", "error": {"code": "unavailable", "mess')).toHaveLength(1);
    expect(parser.feed('age": "The AI services process stopped"}}')).toEqual([]);
    expect(parser.end()).toEqual([
      { type: 'error', error: { code: 'unavailable', message: 'The AI services process stopped' } }
    ]);
  });

  it('skips blank, unreadable and unknown lines and fills a partial answer', () => {
    expect(parseLine('')).toBeNull();
    expect(parseLine('not json')).toBeNull();
    expect(parseLine('{"type": "other"}')).toBeNull();
    expect(parseLine('{"type": "answer", "answer": {"citations": []}}')).toBeNull(); // no text
    expect(parseLine('{"type": "answer", "answer": {"text": "I found no deployments"}}')).toEqual({
      type: 'answer',
      answer: { text: 'I found no deployments', facts: [], citations: [], grounded: false, needs_llm: false },
      conversation_id: null
    });
  });

  it('decodes a character split across byte chunks whole', async () => {
    const bytes = new TextEncoder().encode('{"type": "status", "text": "Résumé…"}\n');
    const chunks = [bytes.slice(0, 30), bytes.slice(30, 31), bytes.slice(31)];
    let i = 0;
    const reader = {
      read: async () => (i < chunks.length ? { done: false, value: chunks[i++] } : { done: true, value: undefined })
    } as unknown as ReadableStreamDefaultReader<Uint8Array>;
    const lines: AssistantLine[] = [];
    await readLines(reader, line => lines.push(line));
    expect(lines).toEqual([{ type: 'status', text: 'Résumé…' }]);
  });
});

describe('citations open our panels', () => {
  const target = (c: Record<string, unknown>) => citationTarget({ type: '', id: '', ...c } as never);

  it('maps each record type to its panel, project and open-command arguments', () => {
    expect(target({ type: 'run', id: RUN, project: 'acme' })).toEqual({
      panel: 'experiments', project: 'acme', args: { runId: RUN }
    });
    expect(target({ type: 'model_version', id: 'acme-churn/churn/7' })).toEqual({
      panel: 'models', project: 'acme-churn', args: { model: 'churn', version: 7 }
    });
    expect(target({ type: 'deployment', id: 'acme/risk-api' })).toEqual({
      panel: 'deployments', project: 'acme', args: { deployment: 'risk-api' }
    });
    expect(target({ type: 'predictions', id: 'acme/risk-api', since: 1 })).toEqual({
      panel: 'deployments', project: 'acme', args: { deployment: 'risk-api' }
    });
    expect(target({ type: 'monitor_window', id: '42', project: 'acme', deployment: 'risk-api' })).toEqual({
      panel: 'monitoring', project: 'acme', args: { deployment: 'risk-api', window: 42 }
    });
    expect(target({ type: 'monitor_windows', id: 'acme/risk-api' })).toEqual({
      panel: 'monitoring', project: 'acme', args: { deployment: 'risk-api' }
    });
    expect(target({ type: 'retraining', id: '3', project: 'acme', deployment: 'risk-api' })).toEqual({
      panel: 'monitoring', project: 'acme', args: { deployment: 'risk-api' }
    });
    expect(target({ type: 'gate_decision', id: '9', project: 'acme', model: 'churn' })).toEqual({
      panel: 'models', project: 'acme', args: { model: 'churn' }
    });
    expect(target({ type: 'gate_decision', id: '9', project: 'acme', model: 'churn', version: 7 })).toEqual({
      panel: 'models', project: 'acme', args: { model: 'churn', version: 7 }
    });
    expect(target({ type: 'alert', id: '5', project: 'acme', deployment: 'risk-api' })).toEqual({
      panel: 'monitoring', project: 'acme', args: { deployment: 'risk-api' }
    });
    expect(target({ type: 'alerts', id: 'acme', state: 'firing' })).toEqual({ panel: 'monitoring', project: 'acme', args: {} });
    expect(target({ type: 'run_search', id: 'acme', filter: "params.x = '1'" })).toEqual({
      panel: 'experiments', project: 'acme', args: {}
    });
    expect(target({ type: 'project', id: 'acme' })).toEqual({ panel: 'projects', project: 'acme', args: {} });
    expect(target({ type: 'note', id: 'acme/docs/drift.md', project: 'acme' })).toEqual({
      panel: 'file', project: '', args: { path: 'acme/docs/drift.md' }
    });
  });

  it('opens nothing for a record without a panel or a malformed id', () => {
    expect(target({ type: 'dataset_snapshot', id: '123' })).toBeNull();
    expect(target({ type: 'run', id: RUN })).toBeNull(); // no project
    expect(target({ type: 'run', id: 'x', project: 'acme' })).toBeNull();
    expect(target({ type: 'run', id: RUN, project: '../etc' })).toBeNull();
    expect(target({ type: 'model_version', id: 'acme/churn' })).toBeNull();
    expect(target({ type: 'model_version', id: 'acme/churn/v7' })).toBeNull();
    expect(target({ type: 'deployment', id: 'risk-api' })).toBeNull();
    expect(target({ type: 'monitor_window', id: '42', project: 'acme' })).toBeNull(); // no deployment
    expect(target({ type: 'note', id: '../secret.md' })).toBeNull();
    expect(target({ type: 'note', id: '/etc/passwd' })).toBeNull();
    expect(target({ type: 'something-new', id: '1', project: 'acme' })).toBeNull();
  });

  it('labels a chip by its label, else its type and id; Copy writes the sources numbered', () => {
    expect(citationLabel({ type: 'monitor_window', id: '42' })).toBe('monitor window 42');
    expect(answerAsText(ANSWER)).toBe(
      `Run \`woe-binning-gbm-013\` has **auc 0.8318**.\n\nSources:\n[1] Run ${RUN} in acme (woe-binning-gbm-013)`
    );
  });
});

/** The elements of a React tree (components not expanded: AnswerView has no hooks, so it is called directly). */
function elements(node: React.ReactNode): React.ReactElement[] {
  if (Array.isArray(node)) {
    return node.flatMap(elements);
  }
  if (!React.isValidElement(node)) {
    return [];
  }
  const props = node.props as { children?: React.ReactNode };
  return [node, ...elements(props.children)];
}

function byTestId(tree: React.ReactNode, testid: string): React.ReactElement<Record<string, any>>[] {
  return elements(tree).filter(e => (e.props as Record<string, unknown>)['data-testid'] === testid) as React.ReactElement<
    Record<string, any>
  >[];
}

describe('every chip the AI services emit opens its record or shows its id', () => {
  const PIPELINE_RUN = '5f0c9a2e-1b7d-4c4e-9a31-0d2f6b8e7c10';
  // One citation of each kind as the planner writes it (gpu_services/jupyter_mlp_gpu/assistant/compose_*.py and
  // answer.py's cite calls), and where clicking its chip goes.
  const EMITTED: [Record<string, unknown>, string, Record<string, unknown>][] = [
    [{ type: 'run', id: RUN, label: 'woe-binning-gbm-013', project: 'acme' }, 'experiments', { runId: RUN }],
    [{ type: 'run_search', id: 'acme', label: 'run search in acme', project: 'acme', filter: "params.f = 'woe'" }, 'experiments', {}],
    [{ type: 'project', id: 'acme', label: 'Acme credit', project: 'acme' }, 'projects', {}],
    [{ type: 'model_version', id: 'acme/churn/7', label: 'churn v7', project: 'acme' }, 'models', { model: 'churn', version: 7 }],
    [
      { type: 'gate_decision', id: '12', label: 'churn v7 champion decision', project: 'acme', model: 'churn', version: 7 },
      'models',
      { model: 'churn', version: 7 }
    ],
    [{ type: 'deployment', id: 'acme/risk-api', label: 'risk-api', project: 'acme' }, 'deployments', { deployment: 'risk-api' }],
    [
      { type: 'predictions', id: 'acme/risk-api', label: 'risk-api prediction log', project: 'acme', since: 1 },
      'deployments',
      { deployment: 'risk-api' }
    ],
    [
      { type: 'monitor_window', id: '42', label: 'risk-api window 3', project: 'acme', deployment: 'risk-api' },
      'monitoring',
      { deployment: 'risk-api', window: 42 }
    ],
    [{ type: 'monitor_windows', id: 'acme/risk-api', label: 'risk-api windows', project: 'acme' }, 'monitoring', { deployment: 'risk-api' }],
    [
      { type: 'retraining', id: '3', label: 'retraining of risk-api', project: 'acme', deployment: 'risk-api' },
      'monitoring',
      { deployment: 'risk-api' }
    ],
    [{ type: 'alert', id: '5', label: 'PSI over threshold', project: 'acme', deployment: 'risk-api' }, 'monitoring', { deployment: 'risk-api' }],
    [{ type: 'alerts', id: 'acme', label: 'firing alerts in acme', project: 'acme', state: 'firing' }, 'monitoring', {}],
    [
      { type: 'pipeline_run', id: PIPELINE_RUN, label: 'train run 5f0c9a2e', project: 'acme', pipeline: 'train' },
      'pipelines',
      { pipeline: 'train', run: PIPELINE_RUN }
    ],
    [
      { type: 'pipeline_runs', id: 'acme/train', label: 'failed runs of train in the period', project: 'acme', since: 1, status: 'failed' },
      'pipelines',
      { pipeline: 'train' }
    ]
  ];

  it.each(EMITTED)('%j opens %s', (citation, panel, args) => {
    const c = citation as never;
    expect(citationTarget(c)).toEqual({ panel, project: 'acme', args });
    const opened: unknown[] = [];
    const actions = { openCitation: (x: unknown) => opened.push(x), insertCell: () => null, copy: () => undefined };
    const tree = AnswerView({ answer: { ...ANSWER, citations: [c] }, actions, onProblem: () => undefined });
    const [chip] = byTestId(tree, 'mlp-chat-citation');
    expect(chip.type).toBe('button');
    chip.props.onClick();
    expect(opened).toEqual([citation]);
  });

  it('renders a chip that opens nothing as plain text with its type and id, never a link', () => {
    const plain = [
      { type: 'dataset_snapshot', id: '8812345', label: 'applicants snapshot', project: 'acme' },
      { type: 'pipeline_run', id: 'run-77', project: 'acme' },
      { type: 'monitor_window', id: '42', label: 'risk-api window 3', project: 'acme' } // no deployment: malformed
    ];
    const actions = { openCitation: () => undefined, insertCell: () => null, copy: () => undefined };
    const tree = AnswerView({ answer: { ...ANSWER, citations: plain as never }, actions, onProblem: () => undefined });
    const chips = byTestId(tree, 'mlp-chat-citation');
    expect(chips.map(c => [c.type, c.props.onClick, c.props['data-opens']])).toEqual([
      ['span', undefined, 'none'],
      ['span', undefined, 'none'],
      ['span', undefined, 'none']
    ]);
    expect(chips.map(c => c.props.children)).toEqual([
      '1. applicants snapshot (dataset snapshot 8812345)',
      '2. pipeline run run-77',
      '3. risk-api window 3 (monitor window 42)'
    ]);
    expect(plainCitationLabel({ type: 'run', id: RUN, label: `run ${RUN}` })).toBe(`run ${RUN}`);
  });

  it('Copy puts the answer\'s Markdown and its numbered sources on the clipboard', () => {
    const copied: string[] = [];
    const answer = { ...ANSWER, text: '## Best\n**`woe-binning-gbm-013`** has auc **0.8318**.\n\n```python\nx = 1\n```\n' };
    const actions = { openCitation: () => undefined, insertCell: () => null, copy: (t: string) => copied.push(t) };
    const [copy] = byTestId(AnswerView({ answer, actions, onProblem: () => undefined }), 'mlp-chat-copy');
    copy.props.onClick();
    expect(copied).toEqual([
      `## Best\n**\`woe-binning-gbm-013\`** has auc **0.8318**.\n\n\`\`\`python\nx = 1\n\`\`\`\n\nSources:\n[1] Run ${RUN} in acme (woe-binning-gbm-013)`
    ]);
  });
});

describe('answers render as text only', () => {
  const HOSTILE = 'Run <img src=x onerror="alert(1)"> did <script>alert(2)</script> and <a href="javascript:x">y</a>';

  it('never passes HTML through: tags in an answer show as their characters', () => {
    const html = renderToStaticMarkup(React.createElement(Markdown, { text: `${HOSTILE}\n\n- \`<b>x</b>\`` }));
    expect(html).not.toMatch(/<img|<script|<a |<b>/);
    expect(html).toContain('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;');
    expect(html).toContain('&lt;script&gt;alert(2)&lt;/script&gt;');
    expect(html).toContain('<code>&lt;b&gt;x&lt;/b&gt;</code>');
  });

  it('keeps HTML in citation labels inert too', () => {
    const answer = { ...ANSWER, text: HOSTILE, citations: [{ type: 'run', id: RUN, project: 'acme', label: '<img src=x onerror=alert(3)>' }] };
    const actions = { openCitation: () => undefined, insertCell: () => null, copy: () => undefined };
    const html = renderToStaticMarkup(React.createElement(AnswerView, { answer, actions, onProblem: () => undefined }));
    expect(html).not.toMatch(/<img|<script/);
    expect(html).toContain('1. &lt;img src=x onerror=alert(3)&gt;');
    expect(html).toContain('data-testid="mlp-chat-citation"');
  });

  it('reads the Markdown answers use: paragraphs, lists, headings, code spans inside bold, fenced code', () => {
    const text = '## Best\n**`woe-binning`** gave the highest auc:\n- acme: `a*b*c` 0.83\n- globex: *0.79*\n\n1. one\n2. two\n\n```python\nimport mlflow\nprint(1)\n```';
    expect(parseMarkdown(text)).toEqual([
      { kind: 'heading', level: 2, children: [{ kind: 'text', text: 'Best' }] },
      {
        kind: 'paragraph',
        children: [
          { kind: 'strong', children: [{ kind: 'code', text: 'woe-binning' }] },
          { kind: 'text', text: ' gave the highest auc:' }
        ]
      },
      {
        kind: 'list',
        ordered: false,
        items: [
          [{ kind: 'text', text: 'acme: ' }, { kind: 'code', text: 'a*b*c' }, { kind: 'text', text: ' 0.83' }],
          [{ kind: 'text', text: 'globex: ' }, { kind: 'em', children: [{ kind: 'text', text: '0.79' }] }]
        ]
      },
      { kind: 'list', ordered: true, items: [[{ kind: 'text', text: 'one' }], [{ kind: 'text', text: 'two' }]] },
      { kind: 'code', language: 'python', text: 'import mlflow\nprint(1)' }
    ]);
    expect(codeBlocks(text)).toEqual(['import mlflow\nprint(1)']);
    expect(parseInline('snake_case_name stays')).toEqual([{ kind: 'text', text: 'snake_case_name stays' }]);
  });

  it('offers each code block as a new cell', () => {
    const answer = { ...ANSWER, text: 'Load it:\n\n```python\nmodel = load("churn")\n```' };
    const inserted: string[] = [];
    const actions = { openCitation: () => undefined, insertCell: (code: string) => (inserted.push(code), null), copy: () => undefined };
    const html = renderToStaticMarkup(React.createElement(AnswerView, { answer, actions, onProblem: () => undefined }));
    expect(html).toContain('Insert as new cell');
    expect(html).toContain('model = load(&quot;churn&quot;)');
  });
});

describe('Insert as new cell', () => {
  /** The members of a NotebookPanel the insert uses, over a list of cell sources. */
  const notebook = (path: string, cells: string[], active: number) => ({
    context: { path },
    content: {
      activeCellIndex: active,
      model: {
        sharedModel: {
          insertCell: (index: number, cell: { cell_type: string; source: string }) => cells.splice(index, 0, cell.source)
        }
      }
    }
  });

  it('inserts a code cell below the active cell and makes it active', () => {
    const cells = ['a', 'b', 'c'];
    const nb = notebook('credit/a.ipynb', cells, 1);
    expect(isNotebookLike(nb)).toBe(true);
    expect(insertCodeCell(nb, 'print(1)')).toBe(2);
    expect(cells).toEqual(['a', 'b', 'print(1)', 'c']);
    expect(nb.content.activeCellIndex).toBe(2);
  });

  it('inserts nothing into what is not a notebook', () => {
    expect(isNotebookLike(null)).toBe(false);
    expect(isNotebookLike({ context: { path: 'a.py' }, content: notebook('a.py', [], 0).content })).toBe(false);
    expect(isNotebookLike({ context: { path: 'a.ipynb' }, content: { activeCellIndex: 0, model: null } })).toBe(false);
  });
});
