import React, { useCallback, useEffect, useMemo, useState } from 'react';

import {
  ApiError,
  getRunColumns,
  openRunEvents,
  RunColumns,
  RunDetail as RunDetailData
} from '../../common/api';
import type { ICurrentProject } from '../../common/currentProject';
import { formatApiError } from '../../common/errors';
import { ErrorBanner, NoProject, PanelHeader, ProjectPanel, useProjectPanel } from '../../common/panel';
import { compareSelectionProblem } from '../runCompare';
import { formatRunCount } from '../../common/runFormat';
import { FeedState, RunsFeed } from '../runsFeed';
import type { IRunsTotal } from '../runsTotal';
import {
  applyFilter,
  buildOrderBy,
  DEFAULT_SORT,
  defaultColumns,
  editFilter,
  EMPTY_FILTER,
  filterFailed,
  IColumnChoice,
  IChoiceStorage,
  ISortState,
  loadColumnChoice,
  nextSort,
  saveColumnChoice,
  tableColumns,
  toggleColumn
} from '../runsQuery';
import { ColumnChooser } from './ColumnChooser';
import { CompareView } from './CompareView';
import { RunDetail } from './RunDetail';
import { RunsTable } from './RunsTable';
import { SuggestView } from './SuggestView';

/** What the panel needs from the rest of JupyterLab, so the view stays free of the app. */
export interface IExperimentsActions {
  openNotebook: (run: RunDetailData) => Promise<void>;
  openLoggedCopy: (slug: string, run: RunDetailData) => Promise<void>;
}

/** The Experiments main-area panel: runs of the current project, run detail and compare; its target is a run. */
export class ExperimentsPanel extends ProjectPanel<string> {
  constructor(
    store: ICurrentProject,
    private readonly _actions: IExperimentsActions
  ) {
    super(store, { classes: ['jp-mlp-experiments'], testid: 'mlp-experiments' });
  }

  /** Show one run of the current project in the detail pane (e.g. a pipeline run's MLflow run). */
  showRun(runId: string): void {
    this.showTarget(runId);
  }

  protected render(): JSX.Element {
    return <ExperimentsView panel={this} actions={this._actions} />;
  }
}

function storage(): IChoiceStorage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

type SidePane =
  | { kind: 'run'; runId: string }
  | { kind: 'compare'; runIds: string[] }
  | { kind: 'suggest' }
  | null;

const FEED_HINTS: Record<FeedState, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  polling: 'Live updates unavailable; checking every 2 s',
  stopped: ''
};

function ExperimentsView({
  panel,
  actions
}: {
  panel: ExperimentsPanel;
  actions: IExperimentsActions;
}): JSX.Element {
  // The selected target is the run in the detail pane (reset when the project changes).
  const { slug, selected, setSelected } = useProjectPanel(panel);
  if (!slug) {
    return <NoProject title="Experiments" purpose="see its runs" />;
  }
  // A new project starts with a fresh view (columns, filter, selection).
  return <ProjectRuns key={slug} slug={slug} runId={selected} onRun={setSelected} actions={actions} />;
}

function ProjectRuns({
  slug,
  runId,
  onRun,
  actions
}: {
  slug: string;
  /** The run in the detail pane (it wins over a comparison: a run asked for from outside replaces it). */
  runId: string | null;
  onRun: (runId: string | null) => void;
  actions: IExperimentsActions;
}): JSX.Element {
  const [available, setAvailable] = useState<RunColumns | null>(null);
  const [choice, setChoice] = useState<IColumnChoice>({ params: [], metrics: [] });
  const [sort, setSort] = useState<ISortState>(DEFAULT_SORT);
  const [filter, setFilter] = useState(EMPTY_FILTER);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [comparing, setComparing] = useState<string[] | null>(null);
  const [suggesting, setSuggesting] = useState(false);
  const side: SidePane = runId
    ? { kind: 'run', runId }
    : comparing
      ? { kind: 'compare', runIds: comparing }
      : suggesting
        ? { kind: 'suggest' }
        : null;
  const [total, setTotal] = useState<IRunsTotal | null>(null);
  const [refreshToken, setRefreshToken] = useState(0);
  const [feedState, setFeedState] = useState<FeedState>('stopped');
  const [error, setError] = useState<string | null>(null);

  const loadColumns = useCallback(async () => {
    try {
      const columns = await getRunColumns(slug);
      setAvailable(columns);
      // The saved choice if the user made one; otherwise the defaults of what exists now, so metric
      // columns appear once a run logs its first metrics (autolog logs params before training).
      setChoice(loadColumnChoice(storage(), slug, columns));
    } catch (err) {
      setError(formatApiError(err));
    }
  }, [slug]);

  useEffect(() => {
    void loadColumns();
  }, [loadColumns]);

  useEffect(() => {
    const feed = new RunsFeed({
      open: signal => openRunEvents(slug, signal),
      onChange: () => setRefreshToken(t => t + 1),
      onStateChange: setFeedState
    });
    feed.start();
    return () => feed.stop();
  }, [slug]);

  // New runs may bring new param and metric keys.
  useEffect(() => {
    if (refreshToken > 0) {
      void loadColumns();
    }
  }, [refreshToken, loadColumns]);

  const columns = useMemo(() => tableColumns(choice), [choice]);
  const orderBy = useMemo(() => buildOrderBy(sort), [sort]);

  const chooseColumns = (next: IColumnChoice) => {
    setChoice(next);
    saveColumnChoice(storage(), slug, next);
  };

  const toggleSelected = useCallback((runId: string) => {
    setSelected(current => {
      const next = new Set(current);
      if (!next.delete(runId)) {
        next.add(runId);
      }
      return next;
    });
  }, []);

  const onFilterError = useCallback(
    (err: ApiError) => setFilter(f => filterFailed(f, formatApiError(err))),
    []
  );
  const onError = useCallback((err: unknown) => setError(formatApiError(err)), []);
  const openRun = useCallback(
    (next: string) => {
      setComparing(null);
      onRun(next);
    },
    [onRun]
  );
  const closeSide = () => {
    setComparing(null);
    setSuggesting(false);
    onRun(null);
  };
  const compareProblem = compareSelectionProblem(selected.size);

  return (
    <div className="jp-mlp-experiments-body">
      <PanelHeader title="Experiments" slug={slug}>
        <div className="jp-mlp-filter">
          <input
            className="jp-mlp-input"
            data-testid="mlp-runs-filter"
            placeholder="Filter, e.g. params.alpha = '0.5' and metrics.auc > 0.8 (Enter to apply)"
            value={filter.draft}
            aria-invalid={filter.error ? 'true' : 'false'}
            aria-describedby="mlp-filter-error"
            onChange={e => setFilter(editFilter(filter, e.target.value))}
            onKeyDown={e => {
              if (e.key === 'Enter') {
                setFilter(applyFilter(filter));
              }
            }}
          />
          {filter.error && (
            <div
              id="mlp-filter-error"
              className="jp-mlp-error jp-mlp-filter-error"
              data-testid="mlp-filter-error"
              role="alert"
            >
              {filter.error}
            </div>
          )}
        </div>
        {available && (
          <ColumnChooser
            available={available}
            chosen={choice}
            onToggle={(kind, key) => chooseColumns(toggleColumn(choice, available, kind, key))}
            onReset={() => chooseColumns(defaultColumns(available))}
          />
        )}
        <button
          className="jp-mlp-button"
          data-testid="mlp-compare-button"
          disabled={compareProblem !== null}
          title={compareProblem ?? 'Compare the selected runs'}
          onClick={() => {
            setComparing([...selected]);
            onRun(null);
          }}
        >
          Compare ({selected.size})
        </button>
        <button
          className="jp-mlp-button"
          data-testid="mlp-suggest-button"
          title="Suggest model families, search spaces and preprocessing for a dataset"
          onClick={() => {
            setComparing(null);
            setSuggesting(true);
            onRun(null);
          }}
        >
          Suggest
        </button>
        {selected.size > 0 && (
          <button
            className="jp-mlp-button jp-mlp-button-small"
            onClick={() => setSelected(new Set())}
          >
            Clear selection
          </button>
        )}
        <span className="jp-mlp-runs-count" data-testid="mlp-runs-count" aria-live="polite">
          {/* The first page can wait for MLflow while the platform starts: say so rather than show nothing. */}
          {total === null ? (error ? '' : 'Loading runs…') : formatRunCount(total.count, total.exact)}
        </span>
        <span className={`jp-mlp-feed jp-mlp-feed-${feedState}`} title={FEED_HINTS[feedState]}>
          {feedState === 'live' ? '● live' : feedState === 'polling' ? '○ polling' : ''}
        </span>
      </PanelHeader>
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      <div className={`jp-mlp-experiments-main${side ? ' jp-mod-split' : ''}`}>
        <RunsTable
          slug={slug}
          filter={filter.applied}
          orderBy={orderBy}
          sort={sort}
          columns={columns}
          selected={selected}
          activeRunId={side?.kind === 'run' ? side.runId : null}
          refreshToken={refreshToken}
          onSort={column => setSort(nextSort(sort, column))}
          onToggleSelected={toggleSelected}
          onOpenRun={openRun}
          onTotal={setTotal}
          onFilterError={onFilterError}
          onError={onError}
        />
        {side?.kind === 'run' && (
          <RunDetail
            slug={slug}
            runId={side.runId}
            refreshToken={refreshToken}
            onClose={closeSide}
            onOpenNotebook={actions.openNotebook}
            onOpenLoggedCopy={run => actions.openLoggedCopy(slug, run)}
          />
        )}
        {side?.kind === 'suggest' && <SuggestView slug={slug} onOpenRun={openRun} onClose={closeSide} />}
        {side?.kind === 'compare' && (
          <CompareView
            slug={slug}
            runIds={side.runIds}
            preferredMetrics={choice.metrics}
            onClose={closeSide}
            onOpenRun={openRun}
          />
        )}
      </div>
    </div>
  );
}
