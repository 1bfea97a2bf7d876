import {
  anyBatchActive,
  batchChipClass,
  batchInput,
  batchProgress,
  batchRequest,
  failureWords,
  hasDownload,
  outputFileName,
  outputWords,
  snapshotChoices,
  sourceWords
} from '../../labextension/src/deployments/batchJobs';
import { batchBody, quoteSnapshotIds } from '../../labextension/src/common/snapshotIds';

const DATASETS = [
  {
    name: 'applicants',
    current_snapshot_id: '9007199254740993123',
    snapshots: [
      { snapshot_id: '111', timestamp_ms: 1000 },
      { snapshot_id: '9007199254740993123', timestamp_ms: 2000 }
    ]
  }
];

describe('progress', () => {
  it('says chunks and rows, and the percent of chunks done', () => {
    expect(batchProgress({ status: 'running', chunks_done: 3, chunks_total: 11, rows: 111 })).toEqual({
      percent: 27,
      text: '3/11 chunks · 111 rows'
    });
    expect(batchProgress({ status: 'succeeded', chunks_done: 11, chunks_total: 11, rows: 4000 })).toEqual({
      percent: 100,
      text: '11/11 chunks · 4,000 rows'
    });
    expect(batchProgress({ status: 'queued', chunks_done: 0, chunks_total: 0, rows: 0 }).text).toBe(
      'not started · 0 rows'
    );
    expect(batchProgress({ status: 'succeeded', chunks_done: 0, chunks_total: 0, rows: 1 })).toEqual({
      percent: 100,
      text: 'counting chunks · 1 row'
    });
    expect(batchProgress({ status: 'running', chunks_done: 9, chunks_total: 4, rows: 0 }).percent).toBe(100);
  });

  it('follows queued and running jobs only', () => {
    expect(anyBatchActive([{ status: 'succeeded' }, { status: 'failed' }])).toBe(false);
    expect(anyBatchActive([{ status: 'succeeded' }, { status: 'running' }])).toBe(true);
    expect(anyBatchActive([{ status: 'queued' }])).toBe(true);
    expect(batchChipClass('failed')).toBe('jp-mlp-chip jp-mlp-tone-failure');
    expect(batchChipClass('succeeded')).toBe('jp-mlp-chip jp-mlp-tone-success');
  });
});

describe('source and output in words', () => {
  it('names dataset snapshots, uploads and Parquet files', () => {
    expect(sourceWords({ kind: 'dataset', dataset: 'applicants', snapshot_id: '123' })).toBe('applicants @ 123');
    expect(sourceWords({ kind: 'dataset', dataset: 'applicants', snapshot_id: 7 })).toBe('applicants @ 7');
    expect(sourceWords({ kind: 'upload', format: 'csv', bytes: 1536 })).toBe('uploaded CSV (1.5 KB)');
    expect(outputWords({ kind: 'dataset', dataset: 'applicants_scored', snapshot_id: '456' })).toBe(
      'applicants_scored @ 456'
    );
    expect(outputWords({ kind: 'dataset', dataset: 'applicants_scored' })).toBe('applicants_scored');
    expect(outputWords({ kind: 'file' })).toBe('a Parquet file');
  });

  it('offers a download only for a succeeded file output', () => {
    expect(hasDownload({ status: 'succeeded', output: { kind: 'file' } })).toBe(true);
    expect(hasDownload({ status: 'running', output: { kind: 'file' } })).toBe(false);
    expect(hasDownload({ status: 'succeeded', output: { kind: 'dataset', dataset: 'x' } })).toBe(false);
    expect(outputFileName({ deployment: 'credit-api', id: 'abcdef0123456789' })).toBe(
      'credit-api-batch-abcdef01.parquet'
    );
  });

  it('says why a job failed', () => {
    expect(failureWords({ status: 'failed', message: "no column(s) ['x1']" })).toBe("no column(s) ['x1']");
    expect(failureWords({ status: 'failed', message: null })).toMatch(/without saying why/);
    expect(failureWords({ status: 'succeeded', message: 'fine' })).toBeNull();
  });
});

describe('64-bit snapshot ids', () => {
  it('arrive exact and leave exact', () => {
    const text =
      '{"items":[{"name":"a","current_snapshot_id":9007199254740993123,' +
      '"snapshots":[{"snapshot_id":9007199254740993123,"timestamp_ms":5}]}],"total":1}';
    const parsed = JSON.parse(quoteSnapshotIds(text));
    expect(parsed.items[0].current_snapshot_id).toBe('9007199254740993123');
    expect(parsed.items[0].snapshots[0]).toEqual({ snapshot_id: '9007199254740993123', timestamp_ms: 5 });
    const pending = JSON.parse(quoteSnapshotIds('{"output":{"kind":"dataset","snapshot_id":null}}'));
    expect(pending.output.snapshot_id).toBeNull();
    expect(batchBody({ dataset: 'a', chunk_rows: 5, snapshot_id: '9007199254740993123' })).toBe(
      '{"dataset":"a","chunk_rows":5,"snapshot_id":9007199254740993123}'
    );
    expect(batchBody({ dataset: 'a' })).toBe('{"dataset":"a"}');
  });
});

describe('the batch form', () => {
  it('builds the request: current snapshot and a Parquet file by default', () => {
    expect(batchRequest({ ...batchInput('applicants') }, DATASETS)).toEqual({
      request: { dataset: 'applicants', chunk_rows: 10000 }
    });
    expect(
      batchRequest(
        { dataset: 'applicants', snapshot: '111', output: ' applicants_scored ', chunkRows: '37' },
        DATASETS
      )
    ).toEqual({
      request: { dataset: 'applicants', snapshot_id: '111', output_dataset: 'applicants_scored', chunk_rows: 37 }
    });
  });

  it('names the field at fault', () => {
    const base = batchInput('applicants');
    const field = (input: Partial<typeof base>) => {
      const r = batchRequest({ ...base, ...input }, DATASETS);
      return 'field' in r ? r.field : null;
    };
    expect(field({ dataset: '' })).toBe('dataset');
    expect(field({ dataset: 'nope' })).toBe('dataset');
    expect(field({ snapshot: 'abc' })).toBe('snapshot');
    expect(field({ snapshot: '222' })).toBe('snapshot');
    expect(field({ output: 'Scored' })).toBe('output');
    expect(field({ output: 'applicants' })).toBe('output');
    expect(field({ chunkRows: '0' })).toBe('chunkRows');
    expect(field({ chunkRows: '2.5' })).toBe('chunkRows');
    expect(field({ chunkRows: '1000001' })).toBe('chunkRows');
    expect(field({ chunkRows: '1000000' })).toBeNull();
    // without the list (not loaded yet) the backend checks the names
    expect('request' in batchRequest({ ...base, dataset: 'other', snapshot: '5' })).toBe(true);
  });

  it('lists snapshots newest first, the current one marked', () => {
    expect(snapshotChoices(DATASETS[0], ms => `t${ms}`)).toEqual([
      { value: '9007199254740993123', label: '9007199254740993123 · t2000 (current)' },
      { value: '111', label: '111 · t1000' }
    ]);
    expect(snapshotChoices(undefined, String)).toEqual([]);
  });
});
