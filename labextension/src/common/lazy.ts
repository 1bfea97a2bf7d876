/**
 * Code that loads when it is first needed (issue 17): JupyterLab fetches only the plugin entry (commands, sidebar
 * tabs, menu items, toolbar buttons) at start; each panel's React code, the API client, uPlot and the panels'
 * stylesheet are webpack chunks fetched by dynamic `import()` when a panel first opens.
 * tests/bench/bench_page_load.py measures the bytes; tests/labextension/entryChunk.spec.ts keeps the entry small.
 */
import type { Message } from '@lumino/messaging';
import { BoxPanel, Widget } from '@lumino/widgets';

/** The panels' stylesheet (every style/*.css but base.css, which the style module loads with JupyterLab). */
export function loadPanelStyles(): Promise<unknown> {
  return import('./panelStyles');
}

/**
 * A sidebar tab whose content is built the first time the tab is shown (or `content()` is asked for): the tab,
 * its icon and the layout restorer's entry exist from the start, its code is fetched on first use.
 */
export class LazyPanel<W extends Widget> extends BoxPanel {
  private _content: Promise<W> | null = null;

  constructor(private readonly _load: () => Promise<W>) {
    super({ spacing: 0 });
    this.addClass('jp-mlp-lazy');
  }

  /** The content, loading it (once) if it was not yet. */
  content(): Promise<W> {
    if (!this._content) {
      const loading = Promise.all([this._load(), loadPanelStyles()]).then(([widget]) => {
        if (!this.isDisposed) {
          this.addWidget(widget);
          BoxPanel.setStretch(widget, 1);
        }
        return widget;
      });
      // A failed fetch (server gone, new build) is tried again the next time the tab is shown.
      loading.catch(error => {
        console.error('jupyter-mlp: could not load the panel', error);
        this._content = null;
      });
      this._content = loading;
    }
    return this._content;
  }

  protected onBeforeShow(msg: Message): void {
    super.onBeforeShow(msg);
    void this.content().catch(() => undefined);
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (this.isVisible) {
      void this.content().catch(() => undefined);
    }
  }
}
