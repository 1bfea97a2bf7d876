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

  it('formats sizes, counts and hashes', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KB');
    expect(formatBytes(null)).toBe('');
    expect(formatRunCount(1)).toBe('1 run');
    expect(formatRunCount(12345)).toBe('12,345 runs');
    expect(shortHash('a'.repeat(64))).toBe('aaaaaaaaaaaa');
    expect(shortHash(null)).toBe('—');
  });
});
