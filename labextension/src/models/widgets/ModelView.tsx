import React, { useCallback, useEffect, useMemo, useRef, useState } from 'react';

import {
  GateDecision,
  getModel,
  listModelVersions,
  ModelAlias,
  ModelDetail,
  ModelVersion,
  ModelVersionPage,
  promoteModelVersion,
  Role,
  verifyModelVersion,
  VerifyResult
} from '../../common/api';
import { isDeployable, prefillFromVersion } from '../../deployments/deployments';
import { formatApiError } from '../../common/errors';
import {
  aliasChipClass,
  aliasEntries,
  canApproveModels,
  canWriteModels,
  keyMetrics,
  PROMOTION_ALIASES,
  seekVersionOffset,
  signatureLabel,
  versionNumbers,
  versionPageOffset,
  VERSIONS_SHOWN
} from '../models';
import { formatMetric, formatTimestamp, shortHash } from '../../common/runFormat';
import { clampOffset } from '../../common/paging';
import { ModelApprovals } from './ModelApprovals';
import { ModelCardView } from './ModelCardView';
import { ModelDecision } from './ModelDecision';
import { ModelDiff } from './ModelDiff';
import { ModelGates } from './ModelGates';
import { ModelLineage } from './ModelLineage';
import type { IModelsActions } from '../actions';
import { Pager } from '../../common/widgets/Pager';
import { ErrorBanner } from '../../common/panel';

/** A version asked for (a citation): its page is found, its row marked and scrolled to, its lineage shown. */
export interface IVersionFocus {
  version: number;
}

/** Pages tried for a focused version before the view says it is not there. */
const FOCUS_SEEKS = 3;

export interface IModelViewProps {
  slug: string;
  name: string;
  role: Role | null;
  /** A version to single out (a new object each time it is asked for, so asking again scrolls again). */
  focus?: IVersionFocus | null;
  /** Bumped when the model may have changed elsewhere (panel shown again, Refresh). */
  reloadToken: number;
  actions: IModelsActions;
  /** Called after something the model list shows changed: an alias moved, a decision was made. */
  onChanged: () => void;
  onClose: () => void;
}

/** A check of one version's files against its signed manifest. */
interface IVerifyState {
  version: number;
  busy: boolean;
  result?: VerifyResult;
  error?: string;
}

/** One registered model: its versions with aliases, promotion, decisions, gates, lineage and diff. */
export function ModelView({
  slug,
  name,
  role,
  reloadToken,
  actions,
  onChanged,
  onClose,
  focus = null
}: IModelViewProps): JSX.Element {
  const [detail, setDetail] = useState<ModelDetail | null>(null);
  const [page, setPage] = useState<ModelVersionPage | null>(null);
  const [offset, setOffset] = useState(0);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  // Bumped after this view changed the model (a promotion, a decision, new gates).
  const [ownToken, setOwnToken] = useState(0);
  const [decision, setDecision] = useState<GateDecision | null>(null);
  const [promoting, setPromoting] = useState<string | null>(null);
  const [verify, setVerify] = useState<IVerifyState | null>(null);
  const [lineageOf, setLineageOf] = useState<number | null>(null);
  const [cardOf, setCardOf] = useState<number | null>(null);
  // The version singled out, and the focus still looking for its page (with the pages tried).
  const [focused, setFocused] = useState<IVersionFocus | null>(null);
  const seeking = useRef<{ focus: IVersionFocus; tries: number } | null>(null);

  const load = useCallback(async () => {
    setBusy(true);
    try {
      const [model, versions] = await Promise.all([
        getModel(slug, name),
        listModelVersions(slug, name, VERSIONS_SHOWN, offset)
      ]);
      const fixed = clampOffset(offset, versions.total, VERSIONS_SHOWN);
      if (fixed !== offset) {
        setOffset(fixed);
        return;
      }
      setDetail(model);
      setPage(versions);
      setError(null);
    } catch (err) {
      setError(formatApiError(err));
    } finally {
      setBusy(false);
    }
  }, [slug, name, offset]);

  useEffect(() => {
    void load();
  }, [load, reloadToken, ownToken]);

  useEffect(() => {
    if (focus) {
      seeking.current = { focus, tries: 0 };
      setFocused(focus);
      setLineageOf(focus.version);
    }
  }, [focus]);

  // Page to the focused version once the model and a page are loaded: the page its number says, then the page
  // before or after when numbering has gaps; it gives up (saying so) after FOCUS_SEEKS pages.
  useEffect(() => {
    const seek = seeking.current;
    if (!seek || !page || !detail) {
      return;
    }
    const numbers = page.items.map(v => v.version);
    if (numbers.includes(seek.focus.version)) {
      seeking.current = null;
      return;
    }
    let next: number | null = versionPageOffset(detail.latest_version ?? 0, seek.focus.version, VERSIONS_SHOWN);
    if (seek.tries > 0 || next === offset) {
      next = seekVersionOffset(numbers, seek.focus.version, offset, page.total, VERSIONS_SHOWN);
    }
    seek.tries += 1;
    if (next === null || next === offset || seek.tries > FOCUS_SEEKS) {
      seeking.current = null;
      setFocused(null);
      setError(`${name} has no version ${seek.focus.version} (or it is no longer listed).`);
      return;
    }
    setOffset(next);
  }, [page, detail, focus, offset, name]);

  const changed = () => {
    setOwnToken(t => t + 1);
    onChanged();
  };

  const promote = async (version: number, alias: ModelAlias) => {
    setPromoting(`${version}:${alias}`);
    setDecision(null);
    try {
      setDecision(await promoteModelVersion(slug, name, version, alias));
      changed();
    } catch (err) {
      setError(formatApiError(err));
    } finally {
      setPromoting(null);
    }
  };

  const runVerify = async (version: number) => {
    setVerify({ version, busy: true });
    try {
      setVerify({ version, busy: false, result: await verifyModelVersion(slug, name, version) });
    } catch (err) {
      setVerify({ version, busy: false, error: formatApiError(err) });
    }
  };

  const versions = page?.items ?? [];
  const numbers = useMemo(() => versionNumbers(page?.items ?? []), [page]);
  const lineageVersion = lineageOf ?? detail?.latest_version ?? null;
  const mayWrite = canWriteModels(role);
  const total = page?.total ?? 0;

  return (
    <section className="jp-mlp-model" data-testid="mlp-model-view" data-model={name}>
      <header className="jp-mlp-header">
        <span className="jp-mlp-model-title">
          <h3 className="jp-mlp-title">{name}</h3>
          {detail &&
            aliasEntries(detail.aliases).map(([alias, version]) => (
              <span key={alias} className={aliasChipClass(alias)} data-alias={alias}>
                {alias} → v{version}
              </span>
            ))}
          {detail && <span className="jp-mlp-hint">MLflow: {detail.mlflow_name}</span>}
        </span>
        <button className="jp-mlp-button jp-mlp-button-small" aria-label="Close model" onClick={onClose}>
          ×
        </button>
      </header>
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      {!page && !error && <div className="jp-mlp-loading">Loading…</div>}
      {page && (
        <>
          <h4 className="jp-mlp-heading">Versions</h4>
          <div className="jp-mlp-table-scroll">
            <table
              className="jp-mlp-table jp-mlp-versions-table"
              data-testid="mlp-model-versions"
              aria-busy={busy ? 'true' : 'false'}
            >
              <thead>
                <tr>
                  <th>Version</th>
                  <th>Aliases</th>
                  <th>Signature</th>
                  <th>Metrics</th>
                  <th>Run</th>
                  <th>Registered</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {versions.map(v => (
                  <VersionRow
                    key={v.version}
                    model={name}
                    version={v}
                    mayWrite={mayWrite}
                    promoting={promoting}
                    verify={verify?.version === v.version ? verify : null}
                    lineageShown={lineageVersion === v.version}
                    focus={focused?.version === v.version ? focused : null}
                    actions={actions}
                    onVerify={() => void runVerify(v.version)}
                    onPromote={alias => void promote(v.version, alias)}
                    onLineage={() => setLineageOf(v.version)}
                    onCard={() => setCardOf(v.version)}
                  />
                ))}
              </tbody>
            </table>
          </div>
          {versions.length === 0 && <p className="jp-mlp-hint">This model has no versions.</p>}
          <Pager
            offset={offset}
            shown={versions.length}
            total={total}
            pageSize={VERSIONS_SHOWN}
            onOffset={setOffset}
            newest
          />
          {promoting && (
            <p className="jp-mlp-hint" role="status">
              The gates are checking v{promoting.split(':')[0]}: verifying its files and scoring it…
            </p>
          )}
          {decision && <ModelDecision decision={decision} onClose={() => setDecision(null)} />}
          {cardOf !== null && (
            <ModelCardView
              key={`card-${cardOf}`}
              slug={slug}
              name={name}
              version={cardOf}
              actions={actions}
              onClose={() => setCardOf(null)}
            />
          )}
          <div className="jp-mlp-model-columns">
            <ModelApprovals
              slug={slug}
              name={name}
              mayDecide={canApproveModels(role)}
              reloadToken={reloadToken + ownToken}
              onDecided={d => {
                setDecision(d);
                changed();
              }}
              onShow={setDecision}
            />
            {detail && (
              <ModelGates
                key={`${slug}/${name}`}
                slug={slug}
                name={name}
                gates={detail.gates}
                mayEdit={canApproveModels(role)}
                onSaved={() => setOwnToken(t => t + 1)}
              />
            )}
          </div>
          {lineageVersion !== null && (
            <ModelLineage
              key={lineageVersion}
              slug={slug}
              name={name}
              version={lineageVersion}
              reloadToken={reloadToken + ownToken}
              actions={actions}
            />
          )}
          <ModelDiff key={`${slug}/${name}`} slug={slug} name={name} versions={numbers} />
        </>
      )}
    </section>
  );
}

function VersionRow({
  model,
  version: v,
  mayWrite,
  promoting,
  verify,
  lineageShown,
  focus,
  actions,
  onVerify,
  onPromote,
  onLineage,
  onCard
}: {
  model: string;
  version: ModelVersion;
  mayWrite: boolean;
  promoting: string | null;
  verify: IVerifyState | null;
  lineageShown: boolean;
  /** Set when this is the version asked for: the row is marked and scrolled into view (again for a new focus). */
  focus: IVersionFocus | null;
  actions: IModelsActions;
  onVerify: () => void;
  onPromote: (alias: ModelAlias) => void;
  onLineage: () => void;
  onCard: () => void;
}): JSX.Element {
  const signature = signatureLabel(v);
  const row = useRef<HTMLTableRowElement>(null);
  useEffect(() => {
    if (focus) {
      row.current?.scrollIntoView?.({ block: 'center' });
    }
  }, [focus]);
  return (
    <>
      <tr
        ref={row}
        data-testid="mlp-version-row"
        data-version={v.version}
        data-focused={focus ? 'true' : undefined}
        aria-selected={focus ? true : undefined}
        className={focus ? 'jp-mod-selected jp-mlp-version-focused' : undefined}
      >
        <td className="jp-mlp-version-number">v{v.version}</td>
        <td>
          <span className="jp-mlp-alias-chips">
            {v.aliases.map(alias => (
              <span key={alias} className={aliasChipClass(alias)} data-alias={alias}>
                {alias}
              </span>
            ))}
          </span>
        </td>
        <td>
          <span
            className={signature.ok ? 'jp-mlp-signed' : 'jp-mlp-unsigned'}
            title={signature.title}
          >
            {signature.text}
          </span>
        </td>
        <td>
          <span className="jp-mlp-key-metrics">
            {keyMetrics(v.metrics).map(([metric, value]) => (
              <span key={metric} title={`${metric} = ${value}`}>
                {metric} <strong>{formatMetric(value)}</strong>
              </span>
            ))}
          </span>
        </td>
        <td>
          {v.run_id ? (
            <button
              className="jp-mlp-link"
              title={`Show run ${v.run_id} in Experiments`}
              onClick={() => actions.openMlflowRun(v.run_id as string)}
            >
              <code>{shortHash(v.run_id)}</code>
            </button>
          ) : (
            '—'
          )}
        </td>
        <td className="jp-mlp-hint">
          {formatTimestamp(Date.parse(v.created_at))} by {v.created_by}
        </td>
        <td>
          <span className="jp-mlp-actions jp-mlp-version-actions">
            <button
              className="jp-mlp-button jp-mlp-button-small"
              data-testid="mlp-version-verify"
              disabled={verify?.busy}
              title="Re-hash the files and check the signature"
              onClick={onVerify}
            >
              {verify?.busy ? 'Verifying…' : 'Verify'}
            </button>
            <button
              className="jp-mlp-button jp-mlp-button-small"
              data-testid="mlp-version-lineage"
              aria-pressed={lineageShown}
              onClick={onLineage}
            >
              Lineage
            </button>
            <button
              className="jp-mlp-button jp-mlp-button-small"
              data-testid="mlp-version-card"
              title={`The model card of v${v.version}: its records, every statement cited`}
              onClick={onCard}
            >
              Model card
            </button>
            {mayWrite &&
              PROMOTION_ALIASES.map(alias => (
                <button
                  key={alias}
                  className="jp-mlp-button jp-mlp-button-small"
                  data-testid={`mlp-promote-${alias}`}
                  disabled={promoting !== null || v.aliases.includes(alias)}
                  title={
                    v.aliases.includes(alias)
                      ? `${alias} already points at v${v.version}`
                      : `Ask the gates to move ${alias} to v${v.version}`
                  }
                  onClick={() => onPromote(alias)}
                >
                  {promoting === `${v.version}:${alias}` ? 'Checking…' : `→ ${alias}`}
                </button>
              ))}
            {mayWrite && actions.deploy && isDeployable(v) && (
              <button
                className="jp-mlp-button jp-mlp-button-small"
                data-testid="mlp-models-deploy"
                title={`Open Deployments with v${v.version} in the Deploy form`}
                onClick={() => actions.deploy?.(prefillFromVersion(model, v))}
              >
                Deploy…
              </button>
            )}
          </span>
        </td>
      </tr>
      {verify && !verify.busy && (
        <tr className="jp-mlp-verify-row">
          <td colSpan={7}>
            <div
              className={verify.result?.ok ? 'jp-mlp-ok' : 'jp-mlp-error'}
              data-testid="mlp-verify-result"
              data-ok={verify.result?.ok ? 'true' : 'false'}
              role="status"
            >
              {verify.result
                ? `${verify.result.ok ? '✓' : '✗'} v${v.version}: ${verify.result.message}`
                : verify.error}
            </div>
          </td>
        </tr>
      )}
    </>
  );
}
