import { tickLabels, xRange, yRange } from '../../labextension/src/common/chartScale';

describe('metric chart axes', () => {
  it('centres a metric logged at one step instead of a 0-100 axis', () => {
    expect(xRange([0])).toEqual([-1, 1]);
    expect(xRange([5, 5])).toEqual([4, 6]);
    expect(xRange([0, 1, 2])).toBeNull();
    expect(xRange([1700000000], true)).toEqual([1699999940, 1700000060]);
    expect(xRange([])).toBeNull();
  });

  it('gives a flat line a readable range', () => {
    const [lo, hi] = yRange([0.8]) ?? [NaN, NaN];
    expect(lo).toBeCloseTo(0.72);
    expect(hi).toBeCloseTo(0.88);
    expect(yRange([0, null, 0])).toEqual([-1, 1]);
    const [nlo, nhi] = yRange([-2, -2]) ?? [NaN, NaN];
    expect(nlo).toBeCloseTo(-2.2);
    expect(nhi).toBeCloseTo(-1.8);
    expect(yRange([0.7, 0.9])).toBeNull();
    expect(yRange([null])).toBeNull();
  });

  it('never repeats a tick label', () => {
    expect(tickLabels([0.8, 0.8000001, 0.8000002])).toEqual(['0.8000000', '0.8000001', '0.8000002']);
    expect(tickLabels([0, 1, 2])).toEqual(['0', '1', '2']);
    expect(tickLabels([0.8])).toEqual(['0.8']); // a lone tick keeps its value, not "1"
    expect(tickLabels([0.75, 0.8, 0.85])).toEqual(['0.75', '0.80', '0.85']);
    expect(tickLabels([0.1 + 0.2])).toEqual(['0.3']);
    expect(tickLabels([0, 0.5, 1])).toEqual(['0.0', '0.5', '1.0']);
    expect(new Set(tickLabels([1e-7, 2e-7, 3e-7])).size).toBe(3);
  });
});
