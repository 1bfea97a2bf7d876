/**
 * The DOM the shared paged section draws: the test ids, classes, roles and texts the panels' lists and tables had
 * when each wrote them out (the browser tests look them up).
 */
import React from 'react';
import { renderToStaticMarkup } from 'react-dom/server';

import type { IPagedLoad } from '../../labextension/src/common/usePagedLoad';
import {
  everyPageFollowed,
  PagedError,
  PagedSection,
  PagedTable,
  SelectableRow
} from '../../labextension/src/common/widgets/PagedSection';

interface IRow {
  name: string;
}

function loaded(
  page: { items: IRow[]; total: number } | null,
  more: Partial<IPagedLoad<{ items: IRow[]; total: number }>> = {}
): IPagedLoad<{ items: IRow[]; total: number }> {
  return {
    page,
    offset: 0,
    setOffset: () => undefined,
    error: null,
    setError: () => undefined,
    busy: false,
    reload: () => undefined,
    pager: { offset: 0, shown: page?.items.length ?? 0, total: page?.total ?? 0, pageSize: 10, onOffset: () => undefined },
    ...more
  };
}

const row = (r: IRow) =>
  React.createElement(
    SelectableRow,
    { key: r.name, selected: r.name === 'b', onSelect: () => undefined, 'data-model': r.name } as never,
    React.createElement('td', null, r.name)
  );

function list(load: IPagedLoad<{ items: IRow[]; total: number }>, more: Record<string, unknown> = {}): string {
  return renderToStaticMarkup(
    React.createElement(PagedSection<IRow>, {
      list: true,
      load,
      sectionClassName: 'jp-mlp-models-list-section',
      sectionTestId: 'mlp-models-list',
      title: 'Registered models',
      empty: "No registered models yet. Register a run's logged model with the form.",
      emptyTestId: 'mlp-models-empty',
      tableClassName: 'jp-mlp-models-table',
      countTestId: 'mlp-models-count',
      columns: ['Model', 'Latest', ''],
      row,
      ...more
    })
  );
}

describe('PagedSection as a panel list', () => {
  it('says Loading in the pager, with Refresh, before the first answer', () => {
    const html = list(loaded(null, { busy: true }));
    expect(html).toBe(
      '<section class="jp-mlp-models-list-section" data-testid="mlp-models-list" aria-busy="true">' +
        '<h3 class="jp-mlp-heading">Registered models</h3>' +
        '<div class="jp-mlp-pager"><span data-testid="mlp-models-count">Loading…</span>' +
        '<span class="jp-mlp-actions"><button class="jp-mlp-button jp-mlp-button-small">Refresh</button></span></div>' +
        '</section>'
    );
  });

  it('draws the empty hint of an empty first page', () => {
    const html = list(loaded({ items: [], total: 0 }));
    expect(html).toContain(
      '<p class="jp-mlp-hint" data-testid="mlp-models-empty">No registered models yet. Register a run&#x27;s logged model with the form.</p>'
    );
    expect(html).not.toContain('<table');
  });

  it('draws the rows, the selected one marked, with the headings and the count', () => {
    const html = list(loaded({ items: [{ name: 'a' }, { name: 'b' }], total: 2 }));
    expect(html).toContain(
      '<table class="jp-mlp-table jp-mlp-models-table" aria-busy="false">' +
        '<thead><tr><th>Model</th><th>Latest</th><th></th></tr></thead><tbody>' +
        '<tr data-model="a" aria-selected="false" tabindex="0"><td>a</td></tr>' +
        '<tr data-model="b" class="jp-mod-selected" aria-selected="true" tabindex="0"><td>b</td></tr>' +
        '</tbody></table>'
    );
    expect(html).toContain('<span data-testid="mlp-models-count">1–2 of 2</span>');
    expect(html).not.toContain('Previous');
  });

  it('keeps Previous and Next on a single page when asked (the Pipelines list)', () => {
    const html = list(loaded({ items: [{ name: 'a' }], total: 1 }), { pageButtons: true });
    expect(html).toContain('<button class="jp-mlp-button jp-mlp-button-small" disabled="">‹ Previous</button>');
    expect(html).toContain('<button class="jp-mlp-button jp-mlp-button-small" disabled="">Next ›</button>');
  });

  it('shows the error as an alert', () => {
    const html = list(loaded(null, { error: 'Forbidden' }));
    expect(html).toContain('<div class="jp-mlp-error" role="alert">Forbidden</div>');
  });
});

describe('PagedSection as a followed table', () => {
  const followed = (load: IPagedLoad<{ items: IRow[]; total: number }>) =>
    renderToStaticMarkup(
      React.createElement(PagedSection<IRow>, {
        load,
        sectionClassName: 'jp-mlp-monitor-alerts',
        sectionTestId: 'alerts-section',
        title: 'Alerts',
        level: 'h4',
        errorRole: 'status',
        errorWhat: 'the alerts',
        empty: 'No alert so far.',
        emptyTestId: 'alerts-empty',
        tableClassName: 'jp-mlp-alerts-table',
        tableTestId: 'alerts-table',
        pagerTestId: 'alerts-pager',
        columns: ['State', { label: 'Windows', title: 'Windows that showed it' }],
        row: (r: IRow) => React.createElement('tr', { key: r.name }, React.createElement('td', null, r.name))
      })
    );

  it('draws a loading line, no aria-busy and no pager on one page', () => {
    expect(followed(loaded(null))).toBe(
      '<section class="jp-mlp-monitor-alerts" data-testid="alerts-section"><h4 class="jp-mlp-heading">Alerts</h4>' +
        '<div class="jp-mlp-loading">Loading…</div></section>'
    );
  });

  it('says a failed refresh quietly under rows already shown, and draws the tooltip heading', () => {
    const html = followed(loaded({ items: [{ name: 'a' }], total: 1 }, { error: 'timeout' }));
    expect(html).toContain('<div class="jp-mlp-hint" role="status">Could not refresh the alerts just now (timeout).</div>');
    expect(html).toContain(
      '<table class="jp-mlp-table jp-mlp-alerts-table" data-testid="alerts-table"><thead><tr><th>State</th>' +
        '<th title="Windows that showed it">Windows</th></tr></thead>'
    );
  });

  it('says the error as an error before any row', () => {
    expect(followed(loaded(null, { error: 'timeout' }))).toContain(
      '<div class="jp-mlp-error" role="status">timeout</div>'
    );
  });

  it('draws the pager with its test id once there are more pages', () => {
    const html = followed(
      loaded(
        { items: [{ name: 'a' }], total: 30 },
        { pager: { offset: 0, shown: 1, total: 30, pageSize: 10, onOffset: () => undefined } }
      )
    );
    expect(html).toContain('<div class="jp-mlp-pager" data-testid="alerts-pager">');
  });
});

describe('PagedTable, PagedError, everyPageFollowed', () => {
  it('draws a table without a header row and without aria-busy when not asked', () => {
    const html = renderToStaticMarkup(
      React.createElement(PagedTable<IRow>, {
        page: { items: [{ name: 'a' }] },
        offset: 0,
        empty: 'No events yet.',
        row: (r: IRow) => React.createElement('tr', { key: r.name })
      })
    );
    expect(html).toBe('<table class="jp-mlp-table"><tbody><tr></tr></tbody></table>');
  });

  it('draws no empty hint past the first page', () => {
    const html = renderToStaticMarkup(
      React.createElement(PagedTable<IRow>, { page: { items: [] }, offset: 10, empty: 'none', row: () => null })
    );
    expect(html).toBe('');
  });

  it('words an error without `what` as the error alone', () => {
    const html = renderToStaticMarkup(React.createElement(PagedError, { error: 'down', shown: true, role: 'alert' }));
    expect(html).toBe('<div class="jp-mlp-hint" role="alert">down</div>');
  });

  it('follows every page of a deployment, aborting overtaken loads', () => {
    expect(everyPageFollowed({ slug: 'p', name: 'd', tick: 3, reloadToken: 1 }, 20)).toEqual({
      pageSize: 20,
      source: 'p/d',
      refresh: '3/1',
      cancelStale: true
    });
  });
});
