/**
 * Streams that go wrong after their 200, as real servers' do: the chat node's knobs
 * `endlessEvent` and `streamErrorCode` (`fleet.ts`).
 */
import type http from 'node:http';

/** An event that never ends: 64 KiB writes with no blank line, until the peer hangs up (at most 256 MiB). */
export async function writeEndlessEvent(res: http.ServerResponse) {
  const piece = 'x'.repeat(64 * 1024);
  res.write('data: {"padding":"');
  for (let sent = 0; sent < 256 * 1_048_576 && !res.destroyed; sent += piece.length) {
    if (res.write(piece)) continue;
    await new Promise<void>((resolve) => {
      const go = () => {
        res.off('drain', go);
        res.off('close', go);
        resolve();
      };
      res.on('drain', go);
      res.on('close', go);
    });
  }
  res.destroy();
}

/** A 200 stream whose first event is an error object, then `[DONE]`: how vLLM reports an engine failure after its headers. */
export function writeErrorFirst(res: http.ServerResponse, code: number, nodeId: string): void {
  const type = code === 429 ? 'rate_limit_error' : code < 500 ? 'BadRequestError' : 'InternalServerError';
  const error = { object: 'error', message: `simulated in-stream ${code} from ${nodeId}`, type, param: null, code };
  res.end(`data: ${JSON.stringify({ error })}\n\ndata: [DONE]\n\n`);
}
