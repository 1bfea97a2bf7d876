import { ReactWidget } from '@jupyterlab/ui-components';
import { ISignal, Signal } from '@lumino/signaling';
import React, { useCallback, useEffect, useRef, useState } from 'react';

import { askAssistant, Conversation, getConversation, listConversations } from '../../common/api';
import type { ICurrentProject } from '../../common/currentProject';
import { formatApiError } from '../../common/errors';
import { ErrorBanner, useCurrentSlug } from '../../common/panel';
import { IAnswer, normalizeAnswer, readLines } from '../ndjson';
import { AnswerView, IAnswerActions } from './AnswerView';

/** What a question is asked about besides its project: the notebook it was asked from. */
export interface IChatContext {
  notebookPath: string | null;
}

/** One question and what came back for it. */
interface ITurn {
  question: string;
  /** The last status line while the assistant works. */
  status: string | null;
  /** Text streamed so far by a language model (delta lines). */
  partial: string;
  answer: IAnswer | null;
  error: string | null;
}

/** Conversations offered in the picker (the newest; older ones stay on the server). */
const CONVERSATION_CHOICES = 50;

/** The Chat sidebar: ask about the current project's records; answers cited, streamed, copyable. */
export class ChatPanel extends ReactWidget {
  private readonly _contextChanged = new Signal<ChatPanel, IChatContext>(this);
  private _context: IChatContext = { notebookPath: null };

  constructor(
    readonly store: ICurrentProject,
    readonly actions: IAnswerActions
  ) {
    super();
    this.addClass('jp-mlp-chat');
    this.node.dataset.testid = 'mlp-chat';
  }

  /** The notebook the next questions are about (null: none). */
  get context(): IChatContext {
    return this._context;
  }

  get contextChanged(): ISignal<ChatPanel, IChatContext> {
    return this._contextChanged;
  }

  /** Ask the next questions about this notebook (or about none), and put the cursor in the question box. */
  setContext(context: IChatContext): void {
    this._context = context;
    this._contextChanged.emit(context);
    requestAnimationFrame(() => this.node.querySelector<HTMLTextAreaElement>('textarea')?.focus());
  }

  protected render(): JSX.Element {
    return <ChatView panel={this} />;
  }
}

function ChatView({ panel }: { panel: ChatPanel }): JSX.Element {
  const [conversationId, setConversationId] = useState<string | null>(null);
  const [turns, setTurns] = useState<ITurn[]>([]);
  const [question, setQuestion] = useState('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const [context, setContext] = useState<IChatContext>(panel.context);
  const [conversations, setConversations] = useState<Conversation[]>([]);
  const [listToken, setListToken] = useState(0);
  const asking = useRef<AbortController | null>(null);
  const turnsNode = useRef<HTMLDivElement>(null);
  const slug = useCurrentSlug(panel.store, () => {
    asking.current?.abort();
    setConversationId(null);
    setTurns([]);
  });

  useEffect(() => {
    const follow = (_: ChatPanel, next: IChatContext) => setContext(next);
    panel.contextChanged.connect(follow);
    return () => {
      panel.contextChanged.disconnect(follow);
      asking.current?.abort();
    };
  }, [panel]);

  // The caller's conversations in this project (reloaded after each answer: a first question starts one).
  useEffect(() => {
    if (!slug) {
      setConversations([]);
      return;
    }
    let live = true;
    listConversations(slug, CONVERSATION_CHOICES)
      .then(page => live && setConversations(page.items))
      .catch(() => live && setConversations([]));
    return () => {
      live = false;
    };
  }, [slug, listToken]);

  const openConversation = useCallback(async (id: string | null) => {
    asking.current?.abort();
    setConversationId(id);
    setProblem(null);
    if (!id) {
      setTurns([]);
      return;
    }
    try {
      const detail = await getConversation(id);
      setTurns(
        detail.turns.map(t => ({
          question: t.question,
          status: null,
          partial: '',
          answer: normalizeAnswer(t.answer as Partial<IAnswer>),
          error: null
        }))
      );
    } catch (error) {
      setProblem(formatApiError(error));
    }
  }, []);

  // Keep the latest turn in view as it streams in.
  useEffect(() => {
    const node = turnsNode.current;
    if (node) {
      node.scrollTop = node.scrollHeight;
    }
  }, [turns]);

  const update = (patch: Partial<ITurn>) =>
    setTurns(all => all.map((t, i) => (i === all.length - 1 ? { ...t, ...patch } : t)));

  const ask = async () => {
    const text = question.trim();
    if (!text || busy) {
      return;
    }
    setQuestion('');
    setProblem(null);
    setBusy(true);
    setTurns(all => [...all, { question: text, status: 'Asking…', partial: '', answer: null, error: null }]);
    const controller = new AbortController();
    asking.current = controller;
    let answered = false;
    try {
      const reader = await askAssistant(
        {
          question: text,
          project: slug || null,
          conversation_id: conversationId,
          context: context.notebookPath ? { notebook_path: context.notebookPath } : {}
        },
        controller.signal
      );
      let partial = '';
      await readLines(reader, line => {
        if (line.type === 'status') {
          update({ status: line.text });
        } else if (line.type === 'delta') {
          partial += line.text;
          update({ partial });
        } else if (line.type === 'answer') {
          answered = true;
          update({ status: null, partial: '', answer: line.answer });
          if (line.conversation_id) {
            setConversationId(line.conversation_id);
          }
        } else {
          answered = true;
          update({ status: null, error: line.error.message });
        }
      });
      if (!answered) {
        update({ status: null, error: 'The assistant stopped without an answer. Ask again.' });
      }
      setListToken(t => t + 1);
    } catch (error) {
      if (!controller.signal.aborted) {
        update({ status: null, error: formatApiError(error) });
      }
    } finally {
      if (asking.current === controller) {
        asking.current = null;
      }
      setBusy(false);
    }
  };

  const fileName = context.notebookPath?.split('/').pop();
  return (
    <div className="jp-mlp-chat-body">
      <div className="jp-mlp-chat-header">
        <h2 className="jp-mlp-title">Assistant</h2>
        <span className="jp-mlp-chat-project" data-testid="mlp-chat-project">
          {slug ? `Project ${slug}` : 'All your projects'}
        </span>
      </div>
      <div className="jp-mlp-chat-conversations">
        <select
          className="jp-mod-styled"
          aria-label="Conversation"
          data-testid="mlp-chat-conversation"
          value={conversationId ?? ''}
          disabled={!slug || busy}
          onChange={e => void openConversation(e.target.value || null)}
        >
          <option value="">New conversation</option>
          {conversationId && !conversations.some(c => c.id === conversationId) && (
            <option value={conversationId}>{turns[0]?.question.slice(0, 80) || 'This conversation'}</option>
          )}
          {conversations.map(c => (
            <option key={c.id} value={c.id}>
              {c.title}
            </option>
          ))}
        </select>
        <button
          className="jp-mlp-button jp-mlp-button-small"
          disabled={busy || turns.length === 0}
          onClick={() => void openConversation(null)}
        >
          New
        </button>
      </div>
      {!slug && (
        <p className="jp-mlp-chat-note">
          No project is selected: questions are about every project you can open. Choose one in the ML Platform
          sidebar to keep a conversation per project.
        </p>
      )}
      <ErrorBanner error={problem} onDismiss={() => setProblem(null)} testid="mlp-chat-problem" />
      <div className="jp-mlp-chat-turns" data-testid="mlp-chat-turns" ref={turnsNode}>
        {turns.length === 0 && (
          <p className="jp-mlp-chat-note">
            Ask about runs, models, deployments, drift, latency, gates and retrainings, e.g. “which run of credit-v2
            has the best auc?”. Every figure is linked to the record it came from.
          </p>
        )}
        {turns.map((turn, i) => (
          <div key={i} className="jp-mlp-chat-turn">
            <div className="jp-mlp-chat-question" data-testid="mlp-chat-question">
              {turn.question}
            </div>
            {turn.status && (
              <div className="jp-mlp-loading" aria-busy="true" data-testid="mlp-chat-status">
                {turn.status}
              </div>
            )}
            {turn.partial && !turn.answer && <div className="jp-mlp-chat-partial">{turn.partial}</div>}
            {turn.answer && <AnswerView answer={turn.answer} actions={panel.actions} onProblem={setProblem} />}
            {turn.error && (
              <div className="jp-mlp-error" role="alert" data-testid="mlp-chat-error">
                {turn.error}
              </div>
            )}
          </div>
        ))}
      </div>
      <form
        className="jp-mlp-chat-ask"
        onSubmit={e => {
          e.preventDefault();
          void ask();
        }}
      >
        {fileName && (
          <div className="jp-mlp-chat-context" data-testid="mlp-chat-context" title={context.notebookPath ?? ''}>
            About {fileName}
            <button
              type="button"
              className="jp-mlp-button jp-mlp-button-small"
              aria-label="Ask without the notebook"
              onClick={() => panel.setContext({ notebookPath: null })}
            >
              ×
            </button>
          </div>
        )}
        <textarea
          className="jp-mod-styled"
          data-testid="mlp-chat-input"
          rows={3}
          maxLength={4000}
          placeholder="Ask about this project's runs, models, deployments…"
          value={question}
          onChange={e => setQuestion(e.target.value)}
          onKeyDown={e => {
            if (e.key === 'Enter' && !e.shiftKey) {
              e.preventDefault();
              void ask();
            }
          }}
        />
        <button
          type="submit"
          className="jp-mlp-button jp-mod-accept"
          data-testid="mlp-chat-send"
          disabled={busy || !question.trim()}
        >
          {busy ? 'Asking…' : 'Ask'}
        </button>
      </form>
    </div>
  );
}
