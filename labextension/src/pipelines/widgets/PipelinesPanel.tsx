import React, { useEffect, useState } from 'react';

import { Executor, getPipelineExecutor, listPipelines } from '../../common/api';
import type { ICurrentProject } from '../../common/currentProject';
import { PanelHeader, ProjectPanel, useProjectPanel } from '../../common/panel';
import { LIVE_TYPES, useLiveToken } from '../../common/useLiveEvents';
import { executorNotice } from '../executor';
import { PIPELINES_PAGE_SIZE } from '../pipelineRuns';
import { shortVersion } from '../promote';
import { formatTimestamp } from '../../common/runFormat';
import { IProjectListProps, PagedList, SelectableRow } from '../../common/widgets/PagedSection';
import type { IPipelinesActions } from '../actions';
import { PipelineView } from './PipelineView';

/** A pipeline (and optionally a version) the panel was asked to show. */
export interface IPipelineTarget {
  pipeline: string;
  version?: string;
  /** A run of the pipeline to open (our run id). */
  run?: string;
}

/** The Pipelines main-area panel: the current project's pipelines, their versions, runs and the Run form. */
export class PipelinesPanel extends ProjectPanel<IPipelineTarget> {
  constructor(
    store: ICurrentProject,
    private readonly _actions: IPipelinesActions
  ) {
    super(store, { classes: ['jp-mlp-pipelines'], testid: 'mlp-pipelines' });
  }

  /** Select a pipeline (and version) of the current project. */
  showPipeline(target: IPipelineTarget): void {
    this.showTarget(target);
  }

  protected render(): JSX.Element {
    return <PipelinesView panel={this} actions={this._actions} />;
  }
}

function PipelinesView({ panel, actions }: { panel: PipelinesPanel; actions: IPipelinesActions }): JSX.Element {
  // Bumped whenever the list may be stale: a pipeline was just promoted, or the panel came back into view.
  const [listToken, setListToken] = useState(0);
  const { slug, selected, setSelected, visible } = useProjectPanel(panel, {
    shown: () => setListToken(t => t + 1),
    target: () => setListToken(t => t + 1)
  });
  // Live updates: a pipeline run finished or failed (its last run and status in the list).
  const live = useLiveToken(slug, LIVE_TYPES.pipelines);
  useEffect(() => {
    if (live > 0) {
      setListToken(t => t + 1);
    }
  }, [live]);

  if (!slug) {
    return (
      <div className="jp-mlp-body jp-mlp-empty-state">
        <h2 className="jp-mlp-title">Pipelines</h2>
        <ExecutorNotice visible={visible} />
        <p>No project is selected. Choose a project in the ML Platform sidebar to see its pipelines.</p>
      </div>
    );
  }
  return (
    <div className="jp-mlp-experiments-body jp-mlp-pipelines-body">
      <PanelHeader title="Pipelines" slug={slug} role={null} />
      <ExecutorNotice visible={visible} />
      <PipelineList
        key={slug}
        slug={slug}
        reloadToken={listToken}
        selected={selected?.pipeline ?? null}
        onSelect={name => setSelected({ pipeline: name })}
      />
      {selected && (
        <PipelineView
          key={`${slug}/${selected.pipeline}/${selected.version ?? ''}/${selected.run ?? ''}`}
          slug={slug}
          name={selected.pipeline}
          initialVersion={selected.version ?? null}
          initialRun={selected.run ?? null}
          visible={visible}
          actions={actions}
          onClose={() => setSelected(null)}
        />
      )}
    </div>
  );
}

/** Where stages run on this platform, read once when the panel is first shown. */
let executorRequest: Promise<Executor> | null = null;

function ExecutorNotice({ visible }: { visible: boolean }): JSX.Element | null {
  const [executor, setExecutor] = useState<Executor | null>(null);

  useEffect(() => {
    if (!visible || executor) {
      return;
    }
    let live = true;
    executorRequest ??= getPipelineExecutor();
    executorRequest
      .then(found => live && setExecutor(found))
      .catch(() => {
        executorRequest = null; // an old backend, or the server was away: ask again next time the panel shows
      });
    return () => {
      live = false;
    };
  }, [visible, executor]);

  if (!executor) {
    return null;
  }
  const notice = executorNotice(executor);
  return (
    <div
      className={notice.className}
      data-testid="mlp-executor-notice"
      data-kind={notice.kind}
      role={notice.tone === 'warning' ? 'status' : undefined}
    >
      {notice.text}
    </div>
  );
}

function PipelineList({ slug, reloadToken, selected, onSelect }: IProjectListProps): JSX.Element {
  return (
    <PagedList
      fetchPage={(limit, at) => listPipelines(slug, limit, at)}
      paging={{ pageSize: PIPELINES_PAGE_SIZE, source: slug, refresh: reloadToken }}
      sectionClassName="jp-mlp-pipeline-list"
      empty="No pipelines yet. Promote a notebook (its toolbar's Promote button) to create one."
      emptyTestId="mlp-pipelines-empty"
      tableClassName="jp-mlp-pipelines-table"
      tableTestId="mlp-pipelines-table"
      countTestId="mlp-pipelines-count"
      pageButtons
      columns={['Pipeline', 'Versions', 'Latest version', 'Updated']}
      row={p => (
        <SelectableRow
          key={p.name}
          selected={p.name === selected}
          onSelect={() => onSelect(p.name)}
          data-pipeline={p.name}
          title={p.source_path}
        >
          <td>{p.name}</td>
          <td>{p.versions}</td>
          <td>
            <code title={p.latest_version}>{shortVersion(p.latest_version)}</code>
          </td>
          <td>{formatTimestamp(Date.parse(p.updated_at))}</td>
        </SelectableRow>
      )}
    />
  );
}
