import { Clipboard } from '@jupyterlab/apputils';
import React, { useEffect, useState } from 'react';

import { createApiKey, listApiKeys, listDeployments, NewApiKey, revokeApiKey } from '../../common/api';
import { KEYS_PAGE_SIZE, keyRequest, keyScope } from '../deployments';
import { formatApiError } from '../../common/errors';
import { formatTimestamp } from '../../common/runFormat';
import { Pager } from '../../common/widgets/Pager';
import { PagedTable } from '../../common/widgets/PagedSection';
import { usePagedLoad } from '../../common/usePagedLoad';

/** The project's API keys for client systems: list, create (the key shown once) and revoke (leads). */
export function ApiKeys({
  slug,
  mayManage,
  reloadToken,
  deployment
}: {
  slug: string;
  mayManage: boolean;
  reloadToken: number;
  /** The deployment open in the panel: a new key is limited to it unless the lead chooses otherwise. */
  deployment: string | null;
}): JSX.Element {
  const { page, offset, error, setError, busy, reload, pager } = usePagedLoad(
    (limit, at) => listApiKeys(slug, limit, at),
    { pageSize: KEYS_PAGE_SIZE, source: slug, refresh: reloadToken }
  );
  const [created, setCreated] = useState<NewApiKey | null>(null);

  const revoke = async (prefix: string) => {
    setError(null);
    try {
      await revokeApiKey(slug, prefix);
      if (created?.prefix === prefix) {
        setCreated(null);
      }
      reload();
    } catch (err) {
      setError(formatApiError(err));
    }
  };

  return (
    <section className="jp-mlp-model jp-mlp-keys" data-testid="mlp-keys">
      <h3 className="jp-mlp-heading">API keys</h3>
      <p className="jp-mlp-hint">
        Client systems call the endpoints with a key. Only its hash is stored; a revoked key gets 401 at once.
      </p>
      {error && (
        <div className="jp-mlp-error" role="alert">
          {error}
        </div>
      )}
      {mayManage && (
        <KeyForm
          slug={slug}
          deployment={deployment}
          onCreated={key => {
            setCreated(key);
            reload();
          }}
        />
      )}
      {created && <NewKey created={created} onDismiss={() => setCreated(null)} />}
      <PagedTable
        page={page}
        offset={offset}
        empty={`No keys yet.${mayManage ? '' : ' A project lead creates them.'}`}
        emptyTestId="mlp-keys-empty"
        busy={busy}
        columns={['Name', 'Prefix', 'Works for', 'Rate limit', 'Created', 'Status', '']}
        row={k => (
          <tr
            key={k.prefix}
            data-testid="mlp-key-row"
            data-prefix={k.prefix}
            data-revoked={k.revoked_at ? 'true' : 'false'}
            className={k.revoked_at ? 'jp-mlp-revoked' : undefined}
          >
            <td className="jp-mlp-model-name">{k.name}</td>
            <td>
              <code>mlpk_{k.prefix}_…</code>
            </td>
            <td>{keyScope(k.deployment)}</td>
            <td>{k.rate_per_s === null ? 'project default' : `${k.rate_per_s}/s`}</td>
            <td className="jp-mlp-hint">
              {formatTimestamp(Date.parse(k.created_at))} by {k.created_by}
            </td>
            <td>
              {k.revoked_at ? (
                <span className="jp-mlp-chip jp-mlp-tone-failure" title={formatTimestamp(Date.parse(k.revoked_at))}>
                  revoked
                </span>
              ) : (
                <span className="jp-mlp-chip jp-mlp-tone-success">active</span>
              )}
            </td>
            <td>
              {mayManage && !k.revoked_at && (
                <button
                  className="jp-mlp-button jp-mlp-button-small"
                  data-testid="mlp-key-revoke"
                  title="Its next request gets 401"
                  onClick={() => void revoke(k.prefix)}
                >
                  Revoke
                </button>
              )}
            </td>
          </tr>
        )}
      />
      <Pager {...pager} newest />
    </section>
  );
}

function KeyForm({
  slug,
  deployment,
  onCreated
}: {
  slug: string;
  deployment: string | null;
  onCreated: (key: NewApiKey) => void;
}): JSX.Element {
  const [name, setName] = useState('');
  const [scope, setScope] = useState(deployment ?? '');
  const [rate, setRate] = useState('');
  const [deployments, setDeployments] = useState<string[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => setScope(deployment ?? ''), [deployment]);

  useEffect(() => {
    let live = true;
    listDeployments(slug, 100)
      .then(page => live && setDeployments(page.items.map(d => d.name)))
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, [slug, deployment]);

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    const checked = keyRequest({ name, deployment: scope, rate });
    if ('error' in checked) {
      setError(checked.error);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      onCreated(await createApiKey(slug, checked.request));
      setName('');
    } catch (err) {
      setError(formatApiError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="jp-mlp-inline-form" onSubmit={e => void submit(e)}>
      <input
        className="jp-mlp-input"
        data-testid="mlp-key-name"
        value={name}
        placeholder="client system, e.g. crm"
        aria-label="Key name"
        aria-invalid={error ? 'true' : 'false'}
        onChange={e => setName(e.target.value)}
      />
      <select
        className="jp-mlp-select"
        data-testid="mlp-key-deployment"
        aria-label="Deployments the key works for"
        value={scope}
        onChange={e => setScope(e.target.value)}
      >
        <option value="">every deployment</option>
        {[...new Set([...deployments, ...(scope ? [scope] : [])])].map(d => (
          <option key={d} value={d}>
            only {d}
          </option>
        ))}
      </select>
      <input
        className="jp-mlp-input jp-mlp-key-rate"
        data-testid="mlp-key-rate"
        value={rate}
        placeholder="req/s (optional)"
        aria-label="Rate limit in requests per second"
        onChange={e => setRate(e.target.value)}
      />
      <button type="submit" className="jp-mlp-button jp-mod-accept" data-testid="mlp-key-create" disabled={busy}>
        {busy ? 'Creating…' : 'Create key'}
      </button>
      {error && (
        <span className="jp-mlp-field-error" data-testid="mlp-key-error">
          {error}
        </span>
      )}
    </form>
  );
}

function NewKey({ created, onDismiss }: { created: NewApiKey; onDismiss: () => void }): JSX.Element {
  const [copied, setCopied] = useState(false);
  return (
    <div className="jp-mlp-new-key" role="status">
      <div>
        <strong>Key “{created.name}” created.</strong> Copy it now and give it to the client system:{' '}
        <strong>you will not see it again</strong> (only its hash is kept).
      </div>
      <div className="jp-mlp-new-key-row">
        <code data-testid="mlp-new-key">{created.key}</code>
        <button
          className="jp-mlp-button jp-mlp-button-small"
          data-testid="mlp-new-key-copy"
          onClick={() => {
            Clipboard.copyToSystem(created.key);
            setCopied(true);
          }}
        >
          {copied ? 'Copied' : 'Copy'}
        </button>
        <button className="jp-mlp-button jp-mlp-button-small" onClick={onDismiss}>
          Done
        </button>
      </div>
    </div>
  );
}
