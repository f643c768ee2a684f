/**
 * `fetch` under one deadline that also covers reading the response (`read`), with redirects
 * never followed: every upstream call carries a node's credential, and a redirect would
 * carry it — and the caller's prompt — wherever the node points. A 3xx comes back as itself.
 *
 * `readsWhole`: `read` has the whole answer when it returns (a JSON answer), so the deadline
 * can be the runtime's `AbortSignal.timeout` — one native timer, nothing to clear; the JS
 * `setTimeout` and `clearTimeout` pair cost ~3% of the router's CPU per JSON request. Without
 * it (a stream, judged by its first chunk and read on afterwards; a probe from a Durable
 * Object, which should hold no timer past its work) the deadline is disarmed when `read`
 * returns, or it would cut the stream.
 */
export async function fetchWithin<T>(url: string, init: RequestInit, ms: number, read: (res: Response) => Promise<T>, readsWhole = false, gone?: AbortSignal): Promise<T | 'timeout'> {
  const abort = readsWhole ? undefined : new AbortController();
  const timed = abort ? abort.signal : AbortSignal.timeout(ms);
  // `gone` (the caller left) ends the call too, and reads as its timeout; a stream is let go of
  // it once `read` returns, as of its deadline (what follows is the relay's to end).
  const signal = gone && !abort ? AbortSignal.any([timed, gone]) : timed;
  const leave = gone && abort ? () => abort.abort() : undefined;
  if (leave) gone!.addEventListener('abort', leave, { once: true });
  const timer = abort ? setTimeout(() => abort.abort(), ms) : undefined;
  try {
    return await read(await fetch(url, { ...init, redirect: 'manual', signal }));
  } catch (err) {
    if (signal.aborted) return 'timeout';
    throw err;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    if (leave) gone!.removeEventListener('abort', leave);
  }
}
