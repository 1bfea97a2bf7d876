import React from 'react';

import { answerAsText, citationLabel, citationTarget, citationTitle, plainCitationLabel } from '../citations';
import { Block, Inline, parseMarkdown } from '../markdown';
import type { IAnswer, ICitation } from '../ndjson';

/** What an answer's buttons do (the plugin's: open a panel, insert a cell, copy). */
export interface IAnswerActions {
  openCitation: (citation: ICitation) => void;
  /** Insert code as a new cell of the active notebook; returns why it could not, or null. */
  insertCell: (code: string) => string | null;
  copy: (text: string) => void;
}

/** Markdown as React text nodes (markdown.ts): no HTML from the answer ever reaches the page. */
export function Markdown({
  text,
  onInsert
}: {
  text: string;
  onInsert?: (code: string) => void;
}): JSX.Element {
  return <div className="jp-mlp-chat-markdown">{parseMarkdown(text).map((b, i) => renderBlock(b, i, onInsert))}</div>;
}

function renderBlock(block: Block, key: number, onInsert?: (code: string) => void): JSX.Element {
  switch (block.kind) {
    case 'paragraph':
      return <p key={key}>{renderInlines(block.children)}</p>;
    case 'heading': {
      const Tag = `h${Math.min(6, block.level + 2)}` as 'h3';
      return <Tag key={key}>{renderInlines(block.children)}</Tag>;
    }
    case 'list': {
      const items = block.items.map((item, i) => <li key={i}>{renderInlines(item)}</li>);
      return block.ordered ? <ol key={key}>{items}</ol> : <ul key={key}>{items}</ul>;
    }
    case 'code':
      return (
        <div key={key} className="jp-mlp-chat-code">
          <pre>
            <code>{block.text}</code>
          </pre>
          {onInsert && (
            <button
              className="jp-mlp-button jp-mlp-button-small"
              data-testid="mlp-chat-insert-cell"
              title="Insert this code as a new cell below the active cell of the current notebook"
              onClick={() => onInsert(block.text)}
            >
              Insert as new cell
            </button>
          )}
        </div>
      );
  }
}

function renderInlines(runs: Inline[]): React.ReactNode[] {
  return runs.map((run, i) => {
    switch (run.kind) {
      case 'text':
        return <React.Fragment key={i}>{run.text}</React.Fragment>;
      case 'code':
        return <code key={i}>{run.text}</code>;
      case 'strong':
        return <strong key={i}>{renderInlines(run.children)}</strong>;
      case 'em':
        return <em key={i}>{renderInlines(run.children)}</em>;
    }
  });
}

/** An answer: its Markdown, its citations as chips that open the record, Copy, and Insert for its code. */
export function AnswerView({
  answer,
  actions,
  onProblem
}: {
  answer: IAnswer;
  actions: IAnswerActions;
  onProblem: (message: string) => void;
}): JSX.Element {
  const insert = (code: string) => {
    const problem = actions.insertCell(code);
    if (problem) {
      onProblem(problem);
    }
  };
  return (
    <div className="jp-mlp-chat-answer" data-testid="mlp-chat-answer">
      <Markdown text={answer.text} onInsert={insert} />
      {answer.citations.length > 0 && (
        <div className="jp-mlp-chat-citations" aria-label="Sources">
          {answer.citations.map((c, i) => {
            const target = citationTarget(c);
            const label = `${i + 1}. ${target ? citationLabel(c) : plainCitationLabel(c)}`;
            return target ? (
              <button
                key={`${c.type}:${c.id}`}
                className="jp-mlp-chip jp-mlp-chat-citation"
                data-testid="mlp-chat-citation"
                data-type={c.type}
                data-id={c.id}
                title={`${citationTitle(c)}: open it`}
                onClick={() => actions.openCitation(c)}
              >
                {label}
              </button>
            ) : (
              <span
                key={`${c.type}:${c.id}`}
                className="jp-mlp-chip jp-mlp-chat-citation jp-mlp-chat-citation-plain"
                data-testid="mlp-chat-citation"
                data-type={c.type}
                data-id={c.id}
                data-opens="none"
                title={`${citationTitle(c)} (no panel shows it)`}
              >
                {label}
              </span>
            );
          })}
        </div>
      )}
      <div className="jp-mlp-chat-answer-tools">
        {!answer.grounded && <span className="jp-mlp-chat-note">{answer.needs_llm ? 'Needs a language model' : 'Not grounded in a record'}</span>}
        <button
          className="jp-mlp-button jp-mlp-button-small"
          data-testid="mlp-chat-copy"
          title="Copy the answer and its sources"
          onClick={() => actions.copy(answerAsText(answer))}
        >
          Copy
        </button>
      </div>
    </div>
  );
}
