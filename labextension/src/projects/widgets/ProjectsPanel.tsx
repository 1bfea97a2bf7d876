import { ReactWidget } from '@jupyterlab/ui-components';
import { ISignal, Signal } from '@lumino/signaling';
import React, { useCallback, useEffect, useState } from 'react';

import { createProject, listAllProjects, Project, whoami, WhoAmI } from '../../common/api';
import { CurrentProjectStore } from '../../common/currentProject';
import { formatApiError, roleLabel } from '../../common/permissions';
import { CreateProjectForm } from './CreateProjectForm';
import { MembersSection } from './MembersSection';

/**
 * The ML Platform sidebar: who is signed in, the current project, its members, and (for platform
 * admins) a form to create projects.
 */
export class ProjectsPanel extends ReactWidget {
  private readonly _refreshRequested = new Signal<this, void>(this);

  constructor(
    private readonly _store: CurrentProjectStore,
    private readonly _openExperiments?: () => void,
    private readonly _openPipelines?: () => void,
    private readonly _openModels?: () => void,
    private readonly _openDeployments?: () => void,
    private readonly _openMonitoring?: () => void
  ) {
    super();
    this.addClass('jp-mlp-panel');
    this.node.dataset.testid = 'mlp-panel';
  }

  /** Reload the user, their projects and the current project (e.g. after a command changed them). */
  refresh(): void {
    this._refreshRequested.emit();
  }

  /** Make `slug` the current project and reload. */
  async selectProject(slug: string): Promise<void> {
    await this._store.set(slug);
    this.refresh();
  }

  protected render(): JSX.Element {
    return (
      <ProjectsView
        store={this._store}
        refreshRequested={this._refreshRequested}
        openExperiments={this._openExperiments}
        openPipelines={this._openPipelines}
        openModels={this._openModels}
        openDeployments={this._openDeployments}
        openMonitoring={this._openMonitoring}
      />
    );
  }
}

interface IProjectsViewProps {
  store: CurrentProjectStore;
  refreshRequested: ISignal<ProjectsPanel, void>;
  openExperiments?: () => void;
  openPipelines?: () => void;
  openModels?: () => void;
  openDeployments?: () => void;
  openMonitoring?: () => void;
}

function ProjectsView({
  store,
  refreshRequested,
  openExperiments,
  openPipelines,
  openModels,
  openDeployments,
  openMonitoring
}: IProjectsViewProps): JSX.Element {
  const [me, setMe] = useState<WhoAmI | null>(null);
  const [projects, setProjects] = useState<Project[]>([]);
  const [current, setCurrent] = useState('');
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);

  const showError = useCallback((err: unknown) => {
    setError(err === null ? null : formatApiError(err));
  }, []);

  const reload = useCallback(async () => {
    setLoading(true);
    try {
      const [caller, visible] = await Promise.all([whoami(), listAllProjects()]);
      setMe(caller);
      setProjects(visible);
      const remembered = store.get();
      // A remembered project may have been deleted or the caller removed from it.
      const known = visible.some(p => p.slug === remembered);
      const chosen = known ? remembered : visible[0]?.slug ?? '';
      setCurrent(chosen);
      if (chosen !== remembered) {
        // Other panels (Experiments) follow the store, so it must name the project shown here.
        await store.set(chosen);
      }
    } catch (err) {
      showError(err);
    } finally {
      setLoading(false);
    }
  }, [store, showError]);

  // The selection can change elsewhere (the settings editor, a command).
  useEffect(() => {
    const follow = (_: unknown, slug: string) => setCurrent(slug);
    store.changed.connect(follow);
    return () => {
      store.changed.disconnect(follow);
    };
  }, [store]);

  useEffect(() => {
    void reload();
    const onRefresh = () => void reload();
    refreshRequested.connect(onRefresh);
    return () => {
      refreshRequested.disconnect(onRefresh);
    };
  }, [reload, refreshRequested]);

  const choose = (slug: string) => {
    setCurrent(slug);
    store.set(slug).catch(showError);
  };

  const create = async (slug: string, name: string) => {
    showError(null);
    try {
      const created = await createProject({ slug, name });
      await store.set(created.slug);
      await reload();
    } catch (err) {
      showError(err);
      throw err;
    }
  };

  const project = projects.find(p => p.slug === current) ?? null;

  return (
    <div className="jp-mlp-body">
      <header className="jp-mlp-header">
        <h2 className="jp-mlp-title">ML Platform</h2>
        <button
          className="jp-mlp-button jp-mlp-button-small"
          onClick={() => void reload()}
          disabled={loading}
          title="Reload projects and members"
        >
          Refresh
        </button>
      </header>

      {error && (
        <div data-testid="mlp-error" role="alert" className="jp-mlp-error">
          <span>{error}</span>
          <button
            className="jp-mlp-button jp-mlp-button-small"
            aria-label="Dismiss error"
            onClick={() => setError(null)}
          >
            ×
          </button>
        </div>
      )}

      {loading && !me && (
        <div className="jp-mlp-loading" aria-busy="true">
          Loading…
        </div>
      )}

      {me && (
        <>
          <div data-testid="mlp-whoami" className="jp-mlp-whoami">
            Signed in as <strong>{me.user}</strong>
            {me.is_admin ? ' (platform admin)' : ''}
          </div>

          <div className="jp-mlp-field">
            <label htmlFor="mlp-project-select">Project</label>
            <span className="jp-mlp-project-row">
              <select
                id="mlp-project-select"
                data-testid="mlp-project-select"
                className="jp-mlp-select"
                value={current}
                disabled={projects.length === 0}
                onChange={e => choose(e.target.value)}
              >
                {projects.length === 0 && <option value="">No projects</option>}
                {projects.map(p => (
                  <option key={p.slug} value={p.slug}>
                    {p.name} ({p.slug})
                  </option>
                ))}
              </select>
              {openExperiments && (
                <button
                  className="jp-mlp-button"
                  data-testid="mlp-open-experiments"
                  disabled={!current}
                  title="Open the runs of this project"
                  onClick={openExperiments}
                >
                  Experiments
                </button>
              )}
              {openPipelines && (
                <button
                  className="jp-mlp-button"
                  data-testid="mlp-open-pipelines"
                  disabled={!current}
                  title="Open the pipelines of this project"
                  onClick={openPipelines}
                >
                  Pipelines
                </button>
              )}
              {openModels && (
                <button
                  className="jp-mlp-button"
                  data-testid="mlp-open-models"
                  disabled={!current}
                  title="Open the registered models of this project"
                  onClick={openModels}
                >
                  Models
                </button>
              )}
              {openDeployments && (
                <button
                  className="jp-mlp-button"
                  data-testid="mlp-open-deployments"
                  disabled={!current}
                  title="Open the serving endpoints of this project"
                  onClick={openDeployments}
                >
                  Deployments
                </button>
              )}
              {openMonitoring && (
                <button
                  className="jp-mlp-button"
                  data-testid="mlp-open-monitoring"
                  disabled={!current}
                  title="Drift, performance, alerts and retraining of this project's deployments"
                  onClick={openMonitoring}
                >
                  Monitoring
                </button>
              )}
            </span>
          </div>

          {projects.length === 0 && !loading && (
            <p className="jp-mlp-hint">
              {me.is_admin
                ? 'There are no projects yet. Create one below.'
                : 'You are not a member of any project yet. Ask a project lead to add you.'}
            </p>
          )}

          {project && (
            <>
              <div className="jp-mlp-role">
                Your role in this project:{' '}
                <strong data-testid="mlp-role">{roleLabel(project.role, project.member_role)}</strong>
              </div>
              {project.description && <p className="jp-mlp-description">{project.description}</p>}
              <MembersSection
                key={project.slug}
                project={project}
                caller={me.user}
                isPlatformAdmin={me.is_admin}
                onError={showError}
                onOwnMembershipChanged={() => void reload()}
              />
            </>
          )}

          {me.is_admin && <CreateProjectForm onCreate={create} />}
        </>
      )}
    </div>
  );
}
