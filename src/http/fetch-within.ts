/**
 * `fetch` under one deadline that also covers reading the response (`read`), with redirects
 * never followed: every upstream call carries a node's credential, and a redirect would
 * carry it — and the caller's prompt — wherever the node points. A 3xx comes back as itself.
 */
export async function fetchWithin<T>(url: string, init: RequestInit, ms: number, read: (res: Response) => Promise<T>): Promise<T | 'timeout'> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), ms);
  try {
    return await read(await fetch(url, { ...init, redirect: 'manual', signal: abort.signal }));
  } catch (err) {
    if (abort.signal.aborted) return 'timeout';
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
