import {
  formatBytes,
  formatDuration,
  formatMetric,
  formatRunCount,
  formatTimestamp,
  shortHash
} from '../../labextension/src/common/runFormat';

describe('run formatting', () => {
  it('formats timestamps in local time', () => {
    const ms = new Date(2026, 0, 5, 9, 7, 3).getTime();
    expect(formatTimestamp(ms)).toBe('2026-01-05 09:07:03');
    expect(formatTimestamp(null)).toBe('—');
  });

  it('formats durations', () => {
    expect(formatDuration(0, 850)).toBe('850 ms');
    expect(formatDuration(0, 42_000)).toBe('42 s');
    expect(formatDuration(0, 185_000)).toBe('3 min 5 s');
    expect(formatDuration(0, 7_440_000)).toBe('2 h 4 min');
    expect(formatDuration(0, null)).toBe('—');
    expect(formatDuration(null, 5)).toBe('—');
  });

  it('formats metric values with four significant decimals', () => {
    expect(formatMetric(0.876543)).toBe('0.8765');
    expect(formatMetric(0.00123456)).toBe('0.001235');
    expect(formatMetric(12.345678)).toBe('12.3457');
    expect(formatMetric(3)).toBe('3');
    expect(formatMetric(1.5e-7)).toBe('1.500e-7');
    expect(formatMetric(null)).toBe('—');
    expect(formatMetric(NaN)).toBe('—');
    expect(formatMetric(-Infinity)).toBe('−∞');
  });

  it('formats metric values to 3 significant digits on request (the monitoring charts and drift cells)', () => {
    const short = { significant: 3 };
    expect(formatMetric(0.876543, short)).toBe('0.877');
    expect(formatMetric(12.345678, short)).toBe('12.3');
    expect(formatMetric(0.00012345, short)).toBe('1.23e-4');
    expect(formatMetric(0, short)).toBe('0');
    expect(formatMetric(Infinity, short)).toBe('—');
    expect(formatMetric(null, short)).toBe('—');
  });

  it('rounds sizes of 10 units and more to whole units on request (batch uploads)', () => {
    expect(formatBytes(15 * 1024)).toBe('15.0 KB');
    expect(formatBytes(15 * 1024, { wholeFromTen: true })).toBe('15 KB');
    expect(formatBytes(1536, { wholeFromTen: true })).toBe('1.5 KB');
    expect(formatBytes(512, { wholeFromTen: true })).toBe('512 B');
    expect(formatBytes(3.4 * 1024 * 1024 * 1024, { wholeFromTen: true })).toBe('3.4 GB');
  });

  it('formats sizes, counts and hashes', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KB');
    expect(formatBytes(null)).toBe('');
    expect(formatRunCount(1)).toBe('1 run');
    expect(formatRunCount(12345)).toBe('12,345 runs');
    expect(formatRunCount(100000, false)).toBe('≈ 100,000 runs');
    expect(shortHash('a'.repeat(64))).toBe('aaaaaaaaaaaa');
    expect(shortHash(null)).toBe('—');
  });
});
