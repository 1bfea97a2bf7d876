import React, { useState } from 'react';

import { createWebhook, deleteWebhook, listWebhooks } from '../../common/api';
import { formatApiError } from '../../common/errors';
import { IWebhookInput, WebhookField, webhookInput, webhookRequest, webhookUrlHint, webhookWords } from '../forms';
import { WEBHOOKS_PAGE_SIZE } from '../monitoring';
import { formatTimestamp } from '../../common/runFormat';
import { Pager } from '../../common/widgets/Pager';
import { PagedTable } from '../../common/widgets/PagedSection';
import { ErrorBanner } from '../../common/panel';
import { usePagedLoad } from '../../common/usePagedLoad';

/** Where the project's alerts go (leads): Slack, Jira or any URL; list, add, delete. */
export function Webhooks({ slug }: { slug: string }): JSX.Element {
  const { page, offset, error, setError, reload, pager } = usePagedLoad(
    (limit, at) => listWebhooks(slug, limit, at),
    { pageSize: WEBHOOKS_PAGE_SIZE, source: slug }
  );
  const [done, setDone] = useState<string | null>(null);
  const [confirming, setConfirming] = useState<number | null>(null);

  const remove = async (id: number, name: string) => {
    setError(null);
    setDone(null);
    setConfirming(null);
    try {
      await deleteWebhook(slug, id);
      setDone(`${name} no longer receives alerts.`);
      reload();
    } catch (err) {
      setError(formatApiError(err));
    }
  };

  return (
    <section className="jp-mlp-model jp-mlp-webhooks" data-testid="webhooks-section">
      <h3 className="jp-mlp-heading">Webhooks</h3>
      <p className="jp-mlp-hint">
        Every alert of the project&apos;s monitors, when it fires and when it resolves, goes to each webhook: a Slack
        channel, a Jira issue, or signed JSON to any URL. Secrets are never shown again.
      </p>
      <ErrorBanner error={error} onDismiss={() => setError(null)} testid="webhooks-error" />
      {done && (
        <div className="jp-mlp-ok" role="status">
          {done}
        </div>
      )}
      <PagedTable
        page={page}
        offset={offset}
        empty="No webhooks yet: alerts show only here."
        emptyTestId="webhooks-empty"
        testid="webhooks-table"
        columns={['Name', 'Sends', 'To', 'Secret', 'Added', '']}
        row={h => (
          <tr key={h.id} data-testid={`webhook-row-${h.name}`} data-kind={h.kind} data-webhook-id={h.id}>
            <td className="jp-mlp-model-name">
              {h.name}
              {!h.enabled && <span className="jp-mlp-hint"> (disabled)</span>}
            </td>
            <td>
              <span className="jp-mlp-chip">{h.kind}</span> {webhookWords(h)}
            </td>
            <td className="jp-mlp-webhook-url">
              <code>{h.url}</code>
            </td>
            <td>{h.secret_set ? 'set' : '—'}</td>
            <td className="jp-mlp-hint">
              {formatTimestamp(h.created_at ? Date.parse(h.created_at) : null)} by {h.created_by}
            </td>
            <td className="jp-mlp-nowrap">
              {confirming === h.id ? (
                <>
                  <button
                    className="jp-mlp-button jp-mlp-button-small jp-mlp-danger"
                    data-testid="webhook-delete-confirm"
                    onClick={() => void remove(h.id, h.name)}
                  >
                    Delete {h.name}
                  </button>{' '}
                  <button className="jp-mlp-button jp-mlp-button-small" onClick={() => setConfirming(null)}>
                    Keep
                  </button>
                </>
              ) : (
                <button
                  className="jp-mlp-button jp-mlp-button-small"
                  data-testid="webhook-delete"
                  onClick={() => setConfirming(h.id)}
                >
                  Delete
                </button>
              )}
            </td>
          </tr>
        )}
      />
      <Pager {...pager} />
      <WebhookForm
        slug={slug}
        onCreated={name => {
          setDone(`${name} will receive the project's alerts.`);
          setError(null);
          reload();
        }}
      />
    </section>
  );
}

function WebhookForm({ slug, onCreated }: { slug: string; onCreated: (name: string) => void }): JSX.Element {
  const [input, setInput] = useState<IWebhookInput>(webhookInput);
  const [errors, setErrors] = useState<Partial<Record<WebhookField, string>>>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const set = (patch: Partial<IWebhookInput>) => setInput(i => ({ ...i, ...patch }));
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    const checked = webhookRequest(input);
    if ('errors' in checked) {
      setErrors(checked.errors);
      return;
    }
    setErrors({});
    setError(null);
    setBusy(true);
    try {
      const created = await createWebhook(slug, checked.request);
      setInput(webhookInput());
      onCreated(created.name);
    } catch (err) {
      setError(formatApiError(err));
    } finally {
      setBusy(false);
    }
  };

  const jira = input.kind === 'jira';
  return (
    <form className="jp-mlp-webhook-form" data-testid="webhook-form" onSubmit={e => void submit(e)}>
      <h4 className="jp-mlp-heading">Add a webhook</h4>
      <div className="jp-mlp-inline-form">
        <label className="jp-mlp-field">
          <span>Kind</span>
          <select
            className="jp-mlp-select"
            data-testid="webhook-kind"
            value={input.kind}
            onChange={e => set({ kind: e.target.value as IWebhookInput['kind'] })}
          >
            <option value="slack">Slack</option>
            <option value="jira">Jira</option>
            <option value="generic">Generic (signed JSON)</option>
          </select>
        </label>
        <label className="jp-mlp-field">
          <span>Name</span>
          <input
            className="jp-mlp-input"
            data-testid="webhook-name"
            placeholder="e.g. ops-slack"
            value={input.name}
            aria-invalid={errors.name ? 'true' : 'false'}
            onChange={e => set({ name: e.target.value })}
          />
        </label>
        <label className="jp-mlp-field jp-mlp-webhook-url-field">
          <span>URL</span>
          <input
            className="jp-mlp-input"
            data-testid="webhook-url"
            placeholder={webhookUrlHint(input.kind)}
            value={input.url}
            aria-invalid={errors.url ? 'true' : 'false'}
            onChange={e => set({ url: e.target.value })}
          />
        </label>
        {input.kind !== 'slack' && (
          <label className="jp-mlp-field">
            <span>{jira ? 'Credentials (user:api_token)' : 'Secret (HMAC key, optional)'}</span>
            <input
              className="jp-mlp-input"
              type="password"
              autoComplete="new-password"
              data-testid="webhook-secret"
              value={input.secret}
              aria-invalid={errors.secret ? 'true' : 'false'}
              onChange={e => set({ secret: e.target.value })}
            />
          </label>
        )}
        {jira && (
          <>
            <label className="jp-mlp-field">
              <span>Jira project</span>
              <input
                className="jp-mlp-input"
                data-testid="webhook-jira-project"
                placeholder="OPS"
                value={input.jiraProject}
                aria-invalid={errors.jira_project ? 'true' : 'false'}
                onChange={e => set({ jiraProject: e.target.value })}
              />
            </label>
            <label className="jp-mlp-field">
              <span>Issue type</span>
              <input
                className="jp-mlp-input"
                data-testid="webhook-jira-issue-type"
                value={input.jiraIssueType}
                aria-invalid={errors.jira_issue_type ? 'true' : 'false'}
                onChange={e => set({ jiraIssueType: e.target.value })}
              />
            </label>
          </>
        )}
        <button type="submit" className="jp-mlp-button jp-mod-accept" data-testid="webhook-add" disabled={busy}>
          Add
        </button>
      </div>
      {Object.values(errors).map(text => (
        <div key={text} className="jp-mlp-field-error" data-testid="webhook-field-error">
          {text}
        </div>
      ))}
      {error && (
        <div className="jp-mlp-error" role="alert" data-testid="webhook-form-error">
          {error}
        </div>
      )}
    </form>
  );
}
