import { formatRunCount } from '../../labextension/src/common/runFormat';
import { IRunsTotal, RunsTotal } from '../../labextension/src/experiments/runsTotal';

/** A count the test answers when it wants (the server's GET .../runs/count). */
function deferredCount(): { ask: () => Promise<number>; asked: () => number; answer: (n: number) => Promise<void> } {
  const pending: Array<(n: number) => void> = [];
  return {
    ask: () => new Promise<number>(resolve => pending.push(resolve)),
    asked: () => pending.length,
    answer: async (n: number) => {
      pending.shift()?.(n);
      await Promise.resolve();
      await Promise.resolve();
    }
  };
}

function last(totals: IRunsTotal[]): string {
  const t = totals[totals.length - 1];
  return formatRunCount(t.count, t.exact);
}

function shown(totals: IRunsTotal[]): string[] {
  return totals.map(t => formatRunCount(t.count, t.exact));
}

describe('the runs total', () => {
  it('shows an estimate as "≈ N runs" until the exact count arrives, asking for it once', async () => {
    const count = deferredCount();
    const told: IRunsTotal[] = [];
    const total = new RunsTotal(count.ask, t => told.push(t));
    total.page(100_000, false);
    total.page(100_000, false); // the next page while the count is on its way: not asked twice
    expect(count.asked()).toBe(1);
    expect(shown(told)).toEqual(['≈ 100,000 runs', '≈ 100,000 runs']);
    await count.answer(99_812);
    expect(last(told)).toBe('99,812 runs');
    total.page(100_000, false); // a later page's estimate does not replace the exact count
    expect(last(told)).toBe('99,812 runs');
    expect(count.asked()).toBe(0);
  });

  it('counts nothing when the page is exact (SQLite, few runs)', () => {
    const count = deferredCount();
    const told: IRunsTotal[] = [];
    new RunsTotal(count.ask, t => told.push(t)).page(4, true);
    expect(shown(told)).toEqual(['4 runs']);
    expect(count.asked()).toBe(0);
  });

  it('asks again after the runs changed, and drops an answer from before the change', async () => {
    const count = deferredCount();
    const told: IRunsTotal[] = [];
    const total = new RunsTotal(count.ask, t => told.push(t));
    total.page(50_000, false);
    total.changed();
    total.page(50_100, false);
    expect(count.asked()).toBe(2);
    await count.answer(49_000); // counted before the change: stale
    expect(last(told)).toBe('≈ 50,100 runs');
    await count.answer(50_003);
    expect(last(told)).toBe('50,003 runs');
  });

  it('tells nothing once its query is gone', async () => {
    const count = deferredCount();
    const told: IRunsTotal[] = [];
    const total = new RunsTotal(count.ask, t => told.push(t));
    total.page(20_000, false);
    total.stop();
    await count.answer(19_999);
    total.page(5, true);
    expect(shown(told)).toEqual(['≈ 20,000 runs']);
  });

  it('keeps the estimate when the count fails, and asks again with the next page', async () => {
    const told: IRunsTotal[] = [];
    let calls = 0;
    const total = new RunsTotal(
      () => (++calls === 1 ? Promise.reject(new Error('503')) : Promise.resolve(30_001)),
      t => told.push(t)
    );
    total.page(30_000, false);
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(shown(told)).toEqual(['≈ 30,000 runs']);
    total.page(30_000, false);
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(calls).toBe(2);
    expect(last(told)).toBe('30,001 runs');
  });
});
