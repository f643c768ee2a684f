/**
 * Preloaded (`node --import`) into Portkey's gateway for the benchmark; two shims, neither
 * touching what the gateway does per request beyond one header copy:
 *
 * 1. Loopback only. Its server entry listens on every interface and takes no host option,
 *    so every `listen` in that process is bound to 127.0.0.1 instead.
 * 2. Mutable upstream headers. The gateway answers a stream with `new Response(body,
 *    upstreamResponse)` and then appends its `x-portkey-*` headers. The @hono/node-server
 *    the shared install resolves (1.19, newer than the 1.13 Portkey's lockfile pins) keeps
 *    the init's Headers object as is, and fetch's are immutable, so every stream failed with
 *    "immutable" (500). Upstream answers get a copy of their headers (one Headers per
 *    request: a cost charged to Portkey, not to the router).
 */
import net from 'node:net';

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function listenOnLoopback(...args) {
  const first = args[0];
  if (typeof first === 'object' && first !== null && !Array.isArray(first)) args[0] = { ...first, host: '127.0.0.1' };
  else if (typeof first === 'number' || typeof first === 'string') {
    // listen(port[, host][, backlog][, callback]): replace or insert the host.
    if (typeof args[1] === 'string') args[1] = '127.0.0.1';
    else args.splice(1, 0, '127.0.0.1');
  }
  return listen.apply(this, args);
};

const upstreamFetch = globalThis.fetch;
const UndiciResponse = globalThis.Response;
globalThis.fetch = async function fetchWithMutableHeaders(input, init) {
  const res = await upstreamFetch(input, init);
  return new UndiciResponse(res.body, { status: res.status, statusText: res.statusText, headers: new Headers(res.headers) });
};
