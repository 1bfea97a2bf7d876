import type { GateConfig } from '../../labextension/src/common/api';
import { ApiError, formatApiError } from '../../labextension/src/common/errors';
import {
  emptyThreshold,
  gateField,
  gateForm,
  gatesBody,
  gatesFailure,
  gatesSummary,
  IGateForm,
  MAX_THRESHOLDS
} from '../../labextension/src/models/modelsGates';

const form = (overrides: Partial<IGateForm> = {}): IGateForm => ({ ...gateForm(null), ...overrides });

const evaluation = { dataset: 'loans', target: 'default', snapshotId: '' };

describe('gateForm', () => {
  it('starts empty, approval off, higher is better', () => {
    expect(gateForm(undefined)).toEqual({
      thresholds: [],
      challengerOn: false,
      challenger: { metric: '', margin: '0', greaterIsBetter: true },
      evaluationOn: false,
      evaluation: { dataset: '', target: '', snapshotId: '' },
      requireApproval: false
    });
  });

  it('shows saved gates as typed strings and round-trips them', () => {
    const saved: GateConfig = {
      thresholds: [{ metric: 'auc', op: '>', value: 0.8 }],
      challenger: { metric: 'auc', margin: 0.01, greater_is_better: false },
      evaluation: { dataset: 'loans', target: 'default', snapshot_id: 9007199254740991 },
      require_approval: true
    };
    const shown = gateForm(saved);
    expect(shown.thresholds).toEqual([{ metric: 'auc', op: '>', value: '0.8' }]);
    expect(shown.challenger).toEqual({ metric: 'auc', margin: '0.01', greaterIsBetter: false });
    expect(shown.evaluation.snapshotId).toBe('9007199254740991');
    expect(gatesBody(shown)).toEqual({ body: saved });
  });

  it('falls back to ≥ for an operator it does not know', () => {
    expect(gateForm({ thresholds: [{ metric: 'auc', op: '==' as never, value: 1 }] }).thresholds[0].op).toBe('>=');
  });
});

describe('gatesBody', () => {
  it('drops blank threshold rows and parses values', () => {
    const out = gatesBody(
      form({
        thresholds: [
          { metric: ' accuracy ', op: '>=', value: ' 0.75 ' },
          emptyThreshold(),
          { metric: 'rmse', op: '<', value: '1e3' }
        ],
        requireApproval: true
      })
    );
    expect(out).toEqual({
      body: {
        thresholds: [
          { metric: 'accuracy', op: '>=', value: 0.75 },
          { metric: 'rmse', op: '<', value: 1000 }
        ],
        challenger: null,
        evaluation: null,
        require_approval: true
      }
    });
  });

  it('keys problems by the form row they belong to, blank rows counted', () => {
    const out = gatesBody(
      form({
        thresholds: [
          emptyThreshold(),
          { metric: 'auc', op: '>=', value: 'high' },
          { metric: 'bad*name', op: '>=', value: '1' },
          { metric: '', op: '>=', value: '1' },
          { metric: 'x', op: '>=', value: 'Infinity' }
        ]
      })
    );
    expect('errors' in out && out.errors).toEqual({
      'thresholds.1.value': 'Enter a finite number.',
      'thresholds.2.metric': expect.stringContaining('letters, digits'),
      'thresholds.3.metric': 'Enter a metric name.',
      'thresholds.4.value': 'Enter a finite number.'
    });
  });

  it('refuses more thresholds than the backend keeps', () => {
    const rows = Array.from({ length: MAX_THRESHOLDS + 1 }, (_, i) => ({
      metric: `m${i}`,
      op: '>=' as const,
      value: '1'
    }));
    const out = gatesBody(form({ thresholds: rows }));
    expect('errors' in out && out.errors.thresholds).toMatch(String(MAX_THRESHOLDS));
  });

  it('needs evaluation data to beat the champion', () => {
    const out = gatesBody(form({ challengerOn: true, challenger: { metric: 'auc', margin: '', greaterIsBetter: true } }));
    expect('errors' in out && out.errors).toEqual({ challenger: expect.stringContaining('evaluation data') });
    const ok = gatesBody(
      form({
        challengerOn: true,
        challenger: { metric: 'auc', margin: '', greaterIsBetter: true },
        evaluationOn: true,
        evaluation
      })
    );
    expect('body' in ok && ok.body.challenger).toEqual({ metric: 'auc', margin: 0, greater_is_better: true });
    expect('body' in ok && ok.body.evaluation).toEqual({ dataset: 'loans', target: 'default', snapshot_id: null });
  });

  it('checks the margin range', () => {
    for (const margin of ['-1', '1000001', 'lots']) {
      const out = gatesBody(
        form({ challengerOn: true, challenger: { metric: 'auc', margin, greaterIsBetter: true }, evaluationOn: true, evaluation })
      );
      expect('errors' in out && out.errors['challenger.margin']).toBeTruthy();
    }
  });

  it('checks the evaluation dataset, label and snapshot', () => {
    const out = gatesBody(
      form({ evaluationOn: true, evaluation: { dataset: 'Loans', target: ' ', snapshotId: '12.5' } })
    );
    expect('errors' in out && Object.keys(out.errors).sort()).toEqual([
      'evaluation.dataset',
      'evaluation.snapshot_id',
      'evaluation.target'
    ]);
    const empty = gatesBody(form({ evaluationOn: true, evaluation: { dataset: '', target: 'y', snapshotId: '' } }));
    expect('errors' in empty && empty.errors['evaluation.dataset']).toBe('Enter a dataset of the project.');
    const pinned = gatesBody(form({ evaluationOn: true, evaluation: { ...evaluation, snapshotId: '42' } }));
    expect('body' in pinned && pinned.body.evaluation?.snapshot_id).toBe(42);
    const unsafe = gatesBody(form({ evaluationOn: true, evaluation: { ...evaluation, snapshotId: '9007199254740993' } }));
    expect('errors' in unsafe && unsafe.errors['evaluation.snapshot_id']).toBeTruthy();
  });

  it('keeps switched-off parts out of the body', () => {
    const out = gatesBody(
      form({ challengerOn: false, challenger: { metric: 'bad*', margin: '-5', greaterIsBetter: true } })
    );
    expect('body' in out && out.body.challenger).toBeNull();
  });
});

describe('backend errors', () => {
  it('maps a field the backend names to the form input it belongs to', () => {
    expect(gateField('thresholds.0.value')).toBe('thresholds.0.value');
    expect(gateField('thresholds.3.metric.extra')).toBe('thresholds.3.metric');
    expect(gateField('thresholds')).toBe('thresholds');
    expect(gateField('challenger.margin')).toBe('challenger.margin');
    expect(gateField('evaluation.dataset')).toBe('evaluation.dataset');
    expect(gateField('challenger')).toBe('challenger');
    expect(gateField('')).toBe('gates');
  });

  it('puts a refused save next to its field', () => {
    const err = new ApiError(
      422,
      'validation_error',
      'challenger-beats-champion needs `evaluation` data: both versions are scored on the same rows',
      [{ field: 'challenger' }]
    );
    const failure = gatesFailure(err, formatApiError);
    expect(failure.fields).toEqual({
      challenger: 'Challenger-beats-champion needs `evaluation` data: both versions are scored on the same rows.'
    });
    expect(failure.general).toBe(formatApiError(err));
    expect(gatesFailure(new ApiError(403, 'forbidden', 'leads set gates'), formatApiError)).toEqual({
      fields: {},
      general: 'Leads set gates.'
    });
  });
});

describe('gatesSummary', () => {
  it('says the rules in words', () => {
    expect(
      gatesSummary({
        thresholds: [{ metric: 'auc', op: '>=', value: 0.8 }],
        evaluation: { dataset: 'loans', target: 'default', snapshot_id: null },
        challenger: { metric: 'rmse', margin: 0.5, greater_is_better: false },
        require_approval: true
      })
    ).toEqual([
      'The files must match their signed manifest.',
      'auc ≥ 0.8',
      'Scored on dataset loans (its current snapshot), label default.',
      'Must beat the champion on rmse (lower is better) by at least 0.5.',
      'A lead approves before champion moves.'
    ]);
  });

  it('without gates, champion moves once the signature checks out', () => {
    expect(gatesSummary(null)).toEqual([
      'The files must match their signed manifest.',
      'champion moves as soon as the gates pass.'
    ]);
  });
});
