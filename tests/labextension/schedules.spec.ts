import { ApiError } from '../../labextension/src/common/errors';
import { formatTimestamp } from '../../labextension/src/common/runFormat';
import {
  compactParameters,
  DEFAULT_TIMEZONE,
  normalizeCron,
  scheduleFailure,
  scheduleRequest,
  scheduleRow,
  SCHEDULES_PAGE_SIZE,
  validateCron
} from '../../labextension/src/pipelines/schedules';
import { clampOffset, lastPageOffset, pageRange } from '../../labextension/src/common/paging';

const VERSION = 'abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789';

const schedule = (overrides: Record<string, unknown> = {}) => ({
  id: 4,
  pipeline: 'train',
  version: VERSION,
  cron: '0 3 * * *',
  timezone: 'Europe/Berlin',
  parameters: {},
  created_by: 'ada',
  created_at: '2024-05-01T10:00:00+00:00',
  next_ticks: ['2024-05-02T03:00:00+02:00', '2024-05-03T03:00:00+02:00', '2024-05-04T03:00:00+02:00'],
  last_run: null,
  ...overrides
});

describe('scheduleRow', () => {
  it('shows the cron, zone, short version, parameters and next run', () => {
    const row = scheduleRow(schedule({ parameters: { epochs: 3, alpha: 2 } }));
    expect(row).toEqual({
      id: 4,
      cron: '0 3 * * *',
      timezone: 'Europe/Berlin',
      version: 'abcdef012345',
      versionTitle: VERSION,
      parameters: '{"alpha": 2, "epochs": 3}',
      nextRun: formatTimestamp(Date.parse('2024-05-02T03:00:00+02:00')),
      nextRunTitle: '2024-05-02T03:00:00+02:00\n2024-05-03T03:00:00+02:00\n2024-05-04T03:00:00+02:00'
    });
  });

  it('says defaults when no parameter was set, and a dash without a next tick', () => {
    const row = scheduleRow(schedule({ next_ticks: [] }));
    expect(row.parameters).toBe('defaults');
    expect(row.nextRun).toBe('—');
    expect(row.nextRunTitle).toBe('');
  });
});

describe('compactParameters', () => {
  it('writes nested values on one line with sorted keys', () => {
    expect(compactParameters({ b: [1, 2], a: { x: 'y' } })).toBe('{"a": {"x": "y"}, "b": [1, 2]}');
    expect(compactParameters(null)).toBe('defaults');
  });
});

describe('cron', () => {
  it('collapses spaces between fields', () => {
    expect(normalizeCron('  0   3 * *\t* ')).toBe('0 3 * * *');
  });

  it('asks for five fields', () => {
    expect(validateCron('0 3 * * *')).toBeNull();
    expect(validateCron('0 6 * * 1-5')).toBeNull();
    expect(validateCron('')).toMatch(/Enter a cron expression/);
    expect(validateCron('   ')).toMatch(/Enter a cron expression/);
    expect(validateCron('0 3 * *')).toMatch(/five fields.*has 4/);
    expect(validateCron('0 0 3 * * *')).toMatch(/has 6/);
  });
});

describe('scheduleRequest', () => {
  const body = (parameters: Record<string, unknown> = {}, errors: Record<string, string> = {}) => ({
    parameters: parameters as Record<string, never>,
    errors
  });

  it('sends the cron, time zone, version and the Run form changed values', () => {
    const built = scheduleRequest({
      cron: ' 0  3 * * * ',
      timezone: ' Europe/Berlin ',
      version: VERSION,
      body: body({ alpha: 2 })
    });
    expect(built).toEqual({
      request: { cron: '0 3 * * *', timezone: 'Europe/Berlin', version: VERSION, parameters: { alpha: 2 } }
    });
  });

  it('uses UTC when the time zone is left empty', () => {
    const built = scheduleRequest({ cron: '0 3 * * *', timezone: '', version: VERSION, body: body() });
    expect('request' in built && built.request.timezone).toBe(DEFAULT_TIMEZONE);
    expect(DEFAULT_TIMEZONE).toBe('UTC');
  });

  it('refuses while the Run form has errors, naming them', () => {
    const built = scheduleRequest({
      cron: '0 3 * * *',
      timezone: 'UTC',
      version: VERSION,
      body: body({}, { alpha: 'Enter a number.' })
    });
    expect(built).toEqual({
      problem: { message: "Fix the Run form's parameters first. alpha: Enter a number.", field: 'run-form' }
    });
  });

  it('refuses a cron without five fields', () => {
    const built = scheduleRequest({ cron: 'daily', timezone: 'UTC', version: VERSION, body: body() });
    expect('problem' in built && built.problem.field).toBe('cron');
  });
});

describe('scheduleFailure', () => {
  const describe_ = (err: unknown) => (err instanceof Error ? err.message : 'x');

  it('points at the input the detail names', () => {
    const cron = new ApiError(422, 'validation_error', "'x' is not a cron", [{ field: 'cron' }]);
    expect(scheduleFailure(cron, describe_)).toEqual({ message: "'x' is not a cron", field: 'cron' });
    const tz = new ApiError(422, 'validation_error', 'not a zone', [{ field: 'timezone' }]);
    expect(scheduleFailure(tz, describe_).field).toBe('timezone');
    const param = new ApiError(422, 'validation_error', 'bad', [{ field: 'parameters.alpha' }]);
    expect(scheduleFailure(param, describe_).field).toBe('run-form');
  });

  it('names no input for other refusals', () => {
    expect(scheduleFailure(new ApiError(403, 'forbidden', 'viewers cannot'), describe_)).toEqual({
      message: 'viewers cannot',
      field: null
    });
    expect(scheduleFailure(new Error('boom'), describe_).field).toBeNull();
  });
});

describe('paging', () => {
  it('finds the last page', () => {
    expect(SCHEDULES_PAGE_SIZE).toBe(20);
    expect(lastPageOffset(0, 20)).toBe(0);
    expect(lastPageOffset(20, 20)).toBe(0);
    expect(lastPageOffset(21, 20)).toBe(20);
    expect(lastPageOffset(45, 20)).toBe(40);
  });

  it('steps back when the rows of the shown page went away', () => {
    expect(clampOffset(20, 20, 20)).toBe(0);
    expect(clampOffset(20, 21, 20)).toBe(20);
    expect(clampOffset(40, 5, 20)).toBe(0);
    expect(clampOffset(0, 0, 20)).toBe(0);
    expect(clampOffset(-5, 30, 20)).toBe(0);
  });

  it('says which rows are shown', () => {
    expect(pageRange(0, 20, 45)).toBe('1–20 of 45');
    expect(pageRange(40, 5, 45)).toBe('41–45 of 45');
    expect(pageRange(0, 0, 0)).toBe('');
  });
});
