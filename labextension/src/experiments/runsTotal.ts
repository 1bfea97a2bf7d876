/**
 * The runs table's total: exact, or the server's estimate until the exact count arrives.
 *
 * On PostgreSQL with many matching runs the runs page answers at once with the database planner's estimate of its
 * total (`total_exact: false`): counting 100k matching runs of 1M took most of a 0.7 s page. The panel then asks
 * for the exact count (`GET .../runs/count`) and shows "≈ 100,000 runs" until it arrives. Pure (no JupyterLab
 * imports) so that jest can test it directly.
 */

/** What the panel shows: a number of runs, and whether it is exact. */
export interface IRunsTotal {
  count: number;
  exact: boolean;
}

/**
 * The total of one query of the runs table (a new filter or sort makes a new one): each page's total, and the
 * exact count asked once when a page answers with an estimate; once the exact count is known, later pages'
 * estimates do not replace it until the runs change.
 */
export class RunsTotal {
  private _exact: number | null = null;
  private _asking = false;
  private _epoch = 0;
  private _stopped = false;

  /**
   * @param countExact asks the server for the exact count of the query.
   * @param onTotal told each time the total shown changes.
   */
  constructor(
    private readonly _countExact: () => Promise<number>,
    private readonly _onTotal: (total: IRunsTotal) => void
  ) {}

  /** A page arrived with its total (`exact` false: the server's estimate). */
  page(total: number, exact: boolean): void {
    if (this._stopped) {
      return;
    }
    if (exact) {
      this._exact = total;
      this._onTotal({ count: total, exact: true });
      return;
    }
    if (this._exact !== null) {
      return; // the exact count of this query is known: an estimate does not replace it
    }
    this._onTotal({ count: total, exact: false });
    if (!this._asking) {
      void this._ask();
    }
  }

  /** Runs changed on the server: the exact count known may be stale, and one being asked is. */
  changed(): void {
    this._exact = null;
    this._asking = false;
    this._epoch++;
  }

  /** The query is gone (a new filter or sort, or the table closed): nothing more is told. */
  stop(): void {
    this._stopped = true;
  }

  private async _ask(): Promise<void> {
    this._asking = true;
    const epoch = this._epoch;
    let count: number;
    try {
      count = await this._countExact();
    } catch {
      if (epoch === this._epoch) {
        this._asking = false; // the estimate stays; the next page's estimate asks again
      }
      return;
    }
    if (this._stopped || epoch !== this._epoch) {
      return;
    }
    this._asking = false;
    this._exact = count;
    this._onTotal({ count, exact: true });
  }
}
