import { ApiError, formatApiError, parseApiError } from '../../labextension/src/common/errors';

describe('parseApiError', () => {
  it("reads the backend's error envelope", () => {
    const body = JSON.stringify({
      error: { code: 'conflict', message: 'project churn already exists', detail: { slug: 'churn' } }
    });
    const err = parseApiError(409, 'Conflict', body);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toBeInstanceOf(Error);
    expect(err.status).toBe(409);
    expect(err.code).toBe('conflict');
    expect(err.message).toBe('project churn already exists');
    expect(err.detail).toEqual({ slug: 'churn' });
  });

  it('keeps a validation detail list intact', () => {
    const detail = [{ loc: ['body', 'slug'], msg: 'String should match pattern' }];
    const body = JSON.stringify({ error: { code: 'validation_error', message: 'slug: bad', detail } });
    const err = parseApiError(422, 'Unprocessable Entity', body);
    expect(err.code).toBe('validation_error');
    expect(err.detail).toEqual(detail);
  });

  it('falls back to the status text when the body is not JSON', () => {
    const err = parseApiError(502, 'Bad Gateway', '<html>upstream down</html>');
    expect(err.status).toBe(502);
    expect(err.code).toBe('http_error');
    expect(err.message).toBe('Bad Gateway');
    expect(err.detail).toBeNull();
  });

  it('derives a code from the status when the JSON is not the envelope', () => {
    const err = parseApiError(404, 'Not Found', JSON.stringify({ detail: 'Not Found' }));
    expect(err.code).toBe('not_found');
    expect(err.message).toBe('Not Found');
    expect(err.detail).toEqual({ detail: 'Not Found' });
  });

  it('says something even with no status text and an empty body', () => {
    const err = parseApiError(500, '', '');
    expect(err.message).toBe('Request failed with status 500');
  });
});

describe('formatApiError with an ApiError', () => {
  it('uses the field detail over the raw message', () => {
    const err = new ApiError(422, 'validation_error', 'slug: String should match pattern', [
      { loc: ['body', 'slug'], msg: 'String should match pattern' }
    ]);
    expect(formatApiError(err)).toBe('The field "slug" is not valid: String should match pattern.');
  });

  it('falls back to a sentence for the status when there is no message', () => {
    expect(formatApiError(new ApiError(403, 'forbidden', ''))).toBe(
      'You do not have permission to do that.'
    );
    expect(formatApiError(new ApiError(0, 'network_error', ' '))).toMatch(/could not reach/i);
  });
});
