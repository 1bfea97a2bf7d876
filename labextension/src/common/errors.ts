/**
 * Errors from the platform API, parsed from the backend's JSON error body.
 *
 * Pure (no JupyterLab imports) so that jest can test it directly.
 */

/** The backend's error envelope: `{"error": {"code", "message", "detail"}}`. */
export interface IErrorBody {
  code: string;
  message: string;
  detail?: unknown;
}

/** A failed API call: the HTTP status plus the backend's error code, message and detail. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly detail: unknown;

  constructor(status: number, code: string, message: string, detail?: unknown) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.detail = detail ?? null;
    // Keep `instanceof` working when compiled to ES5-style classes.
    Object.setPrototypeOf(this, ApiError.prototype);
  }
}

/** Status codes the backend uses, as a code when the body does not name one. */
const STATUS_CODES: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  422: 'validation_error'
};

function isErrorBody(value: unknown): value is IErrorBody {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  const body = value as Record<string, unknown>;
  return typeof body.code === 'string' && typeof body.message === 'string';
}

/**
 * Build an ApiError from a failed response's status, status text and raw body.
 *
 * Falls back to the status text when the body is not the backend's JSON envelope
 * (a proxy error page, an empty body).
 */
export function parseApiError(
  status: number,
  statusText: string,
  bodyText: string
): ApiError {
  const fallbackCode = STATUS_CODES[status] ?? 'http_error';
  const fallbackMessage = statusText || `Request failed with status ${status}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(bodyText);
  } catch {
    return new ApiError(status, fallbackCode, fallbackMessage);
  }
  const envelope = (parsed as { error?: unknown } | null)?.error;
  if (isErrorBody(envelope)) {
    return new ApiError(status, envelope.code, envelope.message, envelope.detail);
  }
  return new ApiError(status, fallbackCode, fallbackMessage, parsed);
}

/** One field at fault in a validation error's detail. */
interface IFieldProblem {
  field: string;
  msg: string;
}

/** Location parts that name where a value came from rather than the field itself. */
const LOCATION_PREFIXES = new Set(['body', 'query', 'path', 'header', 'cookie']);

/**
 * The fields at fault in a validation error's detail.
 *
 * The backend sends `[{"field", "message", "type"}]`; FastAPI's own shape `[{"loc", "msg"}]` is read too,
 * in case an error reaches us unwrapped.
 */
function fieldProblems(detail: unknown): IFieldProblem[] {
  if (!Array.isArray(detail)) {
    return [];
  }
  const problems: IFieldProblem[] = [];
  for (const item of detail) {
    if (typeof item !== 'object' || item === null) {
      continue;
    }
    const { field, message, loc, msg } = item as Record<string, unknown>;
    const text = typeof message === 'string' ? message : msg;
    if (typeof text !== 'string') {
      continue;
    }
    if (typeof field === 'string' && field) {
      problems.push({ field, msg: text });
    } else if (Array.isArray(loc) && loc.length > 0) {
      const parts = loc.map(String);
      while (parts.length > 1 && LOCATION_PREFIXES.has(parts[0])) {
        parts.shift();
      }
      problems.push({ field: parts.join('.'), msg: text });
    }
  }
  return problems;
}

function sentence(text: string): string {
  const trimmed = text.trim();
  if (!trimmed) {
    return trimmed;
  }
  const capitalised = trimmed[0].toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capitalised) ? capitalised : `${capitalised}.`;
}

/** What to say when the backend gave no usable message. */
const STATUS_SENTENCES: Record<number, string> = {
  0: 'Could not reach the ML Platform server.',
  401: 'You are not signed in. Reload the page and sign in again.',
  403: 'You do not have permission to do that.',
  404: 'That was not found, or you are not a member of the project.',
  409: 'That already exists.'
};

/**
 * Turn any error (an ApiError, a raw `{"error": ...}` body, an Error) into a plain sentence.
 *
 * Validation errors name the field at fault, e.g. `The field "slug" is not valid: ...`.
 */
export function formatApiError(err: unknown): string {
  let status = -1;
  let body: IErrorBody | null = null;
  if (err instanceof ApiError) {
    status = err.status;
    body = { code: err.code, message: err.message, detail: err.detail };
  } else if (typeof err === 'object' && err !== null && 'error' in err) {
    const inner = (err as { error: unknown }).error;
    body = isErrorBody(inner) ? inner : null;
  } else if (err instanceof Error) {
    return sentence(err.message) || 'Something went wrong.';
  } else if (typeof err === 'string') {
    return sentence(err) || 'Something went wrong.';
  }

  const problems = body ? fieldProblems(body.detail) : [];
  if (problems.length > 0) {
    return problems
      .map(p => sentence(`The field "${p.field}" is not valid: ${p.msg}`))
      .join(' ');
  }
  if (body && body.message.trim()) {
    return sentence(body.message);
  }
  return STATUS_SENTENCES[status] ?? 'Something went wrong.';
}
