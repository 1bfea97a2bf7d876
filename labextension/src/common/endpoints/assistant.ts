/**
 * The assistant: ask (an NDJSON stream, read by assistant/ndjson.ts) and the caller's own conversations.
 */
import type { AskRequest, ConversationDetail, ConversationPage } from '../apiSchemas';
import { api, data } from '../client';
import { ApiError } from '../errors';

/**
 * Ask a question; returns a reader of the answer stream's raw bytes (NDJSON: status lines, then the answer).
 * A refusal before the stream (422 bad question, 404 project or conversation, 503 the AI services process is not
 * running) throws the backend's ApiError. Abort `signal` to stop reading.
 */
export async function askAssistant(
  body: AskRequest,
  signal?: AbortSignal
): Promise<ReadableStreamDefaultReader<Uint8Array>> {
  const { response } = await api().POST('/api/assistant/ask', {
    body,
    parseAs: 'stream',
    signal,
    headers: { Accept: 'application/x-ndjson' },
    cache: 'no-store'
  });
  const type = response.headers.get('Content-Type') ?? '';
  if (!response.body || !type.startsWith('application/x-ndjson')) {
    throw new ApiError(response.status, 'not_a_stream', 'The server did not send the assistant\'s answer stream.');
  }
  return response.body.getReader();
}

/** The caller's conversations in a project, newest first. */
export function listConversations(project: string, limit = 50, offset = 0): Promise<ConversationPage> {
  return data(api().GET('/api/assistant/conversations', { params: { query: { project, limit, offset } } }));
}

/** One of the caller's conversations with its turns. */
export function getConversation(id: string): Promise<ConversationDetail> {
  return data(
    api().GET('/api/assistant/conversations/{conversation_id}', { params: { path: { conversation_id: id } } })
  );
}
