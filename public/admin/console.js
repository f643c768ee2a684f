// The operator console: reads the router's own admin API with the admin token, which it
// asks for once per tab (sessionStorage) and never shows or sends anywhere else.
(() => {
  'use strict';
  const TOKEN = 'llm-edge-router.adminToken';
  const $ = (id) => document.getElementById(id);
  const HOUR = 3_600_000;

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === 'class') node.className = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }

  class Unauthorized extends Error {}

  async function api(path) {
    const res = await fetch(`/admin/${path}`, { headers: { authorization: `Bearer ${sessionStorage.getItem(TOKEN)}` } });
    if (res.status === 401) throw new Unauthorized('That token was refused.');
    // Too many wrong tokens from this address (README "Admin API"): the right one too, until then.
    if (res.status === 429) throw new Unauthorized(`Too many wrong tokens from this address: try again in ${res.headers.get('retry-after')} s.`);
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
    return res.json();
  }

  /** Every key, page by page (the API gives at most 1,000 a page): the table lists them all. */
  async function allKeys() {
    const data = [];
    let cursor = null;
    do {
      const page = await api(`keys?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      data.push(...page.data);
      cursor = page.has_more ? page.next_cursor : null;
    } while (cursor);
    return { data };
  }

  const ago = (ms) => (ms === null || ms === undefined ? '—' : ms < 60_000 ? `${Math.round(ms / 1000)} s ago` : ms < 3_600_000 ? `${Math.round(ms / 60_000)} min ago` : `${(ms / 3_600_000).toFixed(1)} h ago`);
  const usd = (x) => `$${x >= 1 || x === 0 ? x.toFixed(2) : x >= 0.01 ? x.toFixed(4) : x.toFixed(6)}`;
  const int = (x) => Number(x).toLocaleString('en-US');

  function renderNodes(status) {
    const body = $('nodes').tBodies[0];
    body.replaceChildren(
      ...status.nodes.map((n) =>
        el(
          'tr',
          { 'data-node': n.id },
          el('td', {}, n.id),
          el('td', {}, n.region),
          el('td', { class: `state ${n.state}` }, n.state),
          el('td', {}, ago(n.stateSinceMs)),
          el('td', {}, n.lastProbeMs === null ? '—' : `${n.lastProbeMs} ms, ${ago(n.lastProbeAgeMs)}`),
          el('td', { class: 'muted' }, n.reason),
        ),
      ),
    );
  }

  function renderTransitions(status) {
    const list = $('transitions');
    list.replaceChildren(
      ...status.transitions.slice(0, 20).map((t) =>
        el('li', { 'data-node': t.node }, `${ago(t.ageMs)} · ${t.node}: `, el('span', { class: `state ${t.from}` }, t.from), ' → ', el('span', { class: `state ${t.to}` }, t.to), el('span', { class: 'muted' }, ` — ${t.reason}`)),
      ),
    );
    if (status.transitions.length === 0) list.append(el('li', { class: 'muted' }, 'No transition yet.'));
  }

  /** Green at the fastest figure of the table, red at 300 ms and more. */
  function heat(ms) {
    if (ms === null) return '';
    const t = Math.min(1, Math.max(0, ms / 300));
    return `hsl(${Math.round(120 - 120 * t)} 70% 85%)`;
  }

  function renderHeatmap(tables) {
    const table = $('heatmap');
    table.tHead.replaceChildren(el('tr', {}, el('th', {}, 'Colo'), ...tables.nodes.map((n) => el('th', {}, n))));
    table.tBodies[0].replaceChildren(
      ...tables.colos.map((c) =>
        el(
          'tr',
          { 'data-colo': c.colo },
          el('th', {}, c.colo),
          ...tables.nodes.map((n) => {
            const ms = c.expectedMs[n] ?? null;
            const cell = el('td', { 'data-node': n, title: `${c.colo} → ${n}: ${c.health[n] ?? 'healthy'}` }, ms === null ? '—' : ms);
            cell.style.background = heat(ms);
            return cell;
          }),
        ),
      ),
    );
    if (tables.colos.length === 0) table.tBodies[0].append(el('tr', {}, el('td', { colspan: tables.nodes.length + 1, class: 'muted' }, 'No table published yet.')));
  }

  function renderKeys(keys, usage) {
    const byKey = new Map(usage.data.map((u) => [u.key, u]));
    // The limits in force (the key's own over `limits.defaults`), each marked with where it
    // comes from: an inherited budget is as binding as the key's own.
    const shown = (l, fields) =>
      fields
        .filter(([f]) => l[f] !== undefined)
        .map(([f, text]) => el('span', { class: `limit ${l[f].from}`, 'data-limit': f, 'data-from': l[f].from, title: l[f].from === 'key' ? "the key's own" : 'from limits.defaults' }, `${text(l[f].value)} (${l[f].from})`));
    const cell = (items) => (items.length ? items.flatMap((x, i) => (i ? [', ', x] : [x])) : ['—']);
    const limits = (l = {}) => cell(shown(l, [['rpm', (v) => `rpm ${int(v)}`], ['tpm', (v) => `tpm ${int(v)}`], ['concurrency', (v) => `concurrency ${int(v)}`]]));
    const budgets = (l = {}) => cell(shown(l, [['dailyUsd', (v) => `${usd(v)}/day`], ['monthlyUsd', (v) => `${usd(v)}/month`]]));
    $('keys').tBodies[0].replaceChildren(
      ...keys.data.map((k) => {
        const u = byKey.get(k.id) ?? { requests: 0, errors: 0, inputTokens: 0, outputTokens: 0, costUsd: 0, unpriced: 0 };
        return el(
          'tr',
          { 'data-key': k.id },
          el('td', {}, k.name),
          el('td', { class: 'muted' }, k.id),
          el('td', { class: 'num' }, int(u.requests)),
          el('td', { class: 'num' }, int(u.errors)),
          el('td', { class: 'num' }, `${int(u.inputTokens)} / ${int(u.outputTokens)}`),
          el('td', { class: 'num' }, `${usd(u.costUsd)}${u.unpriced ? ` (+${int(u.unpriced)} unpriced)` : ''}`),
          el('td', {}, ...limits(k.effectiveLimits)),
          el('td', {}, ...budgets(k.effectiveLimits)),
        );
      }),
    );
  }

  const charts = [];
  function renderCharts(hourly, now) {
    const start = Math.floor(now / HOUR) * HOUR - 23 * HOUR;
    const xs = Array.from({ length: 24 }, (_, i) => (start + i * HOUR) / 1000);
    const at = new Map(hourly.data.map((r) => [Date.parse(r.hour) / 1000, r]));
    const series = (f) => xs.map((x) => (at.has(x) ? f(at.get(x)) : 0));
    const count = (v) => (Number.isInteger(v) ? int(v) : '');
    const dollars = (v) => (v === 0 ? '$0' : v < 0.01 ? `$${v.toExponential(1)}` : `$${v.toFixed(2)}`);
    const specs = [
      ['Requests', series((r) => r.requests), '#2563eb', count],
      ['Errors', series((r) => r.errors), '#b91c1c', count],
      ['Tokens (in + out)', series((r) => r.inputTokens + r.outputTokens), '#7c3aed', count],
      ['Cost (USD)', series((r) => r.costUsd), '#15803d', dollars],
    ];
    const box = $('charts');
    for (const c of charts.splice(0)) c.destroy();
    box.replaceChildren();
    const holders = specs.map(([title, ys]) => el('div', { class: 'chart', 'data-chart': title, 'data-total': ys.reduce((a, b) => a + b, 0) }, el('h3', {}, title)));
    box.append(...holders);
    for (const [i, [title, ys, stroke, format]] of specs.entries()) {
      const holder = holders[i];
      charts.push(new uPlot({ width: Math.max(200, holder.clientWidth), height: 160, legend: { show: false }, series: [{}, { label: title, stroke, fill: `${stroke}22`, width: 2, points: { show: false } }], axes: [{ space: 60 }, { size: 60, values: (_, ticks) => ticks.map(format) }] }, [xs, ys], holder));
    }
  }

  async function load() {
    const now = Date.now();
    const [status, tables, keys, perKey, hourly] = await Promise.all([
      api('status'),
      api('tables'),
      allKeys(),
      api(`usage?groupBy=key&from=${now - 30 * 24 * HOUR}`),
      api(`usage?groupBy=hour&from=${Math.floor(now / HOUR) * HOUR - 23 * HOUR}`),
    ]);
    renderNodes(status);
    renderTransitions(status);
    renderHeatmap(tables);
    renderKeys(keys, perKey);
    renderCharts(hourly, now);
    $('updated').textContent = `updated ${new Date(now).toLocaleTimeString()}`;
    document.body.dataset.loaded = 'true';
  }

  function show(loggedIn) {
    $('login').hidden = loggedIn;
    $('console').hidden = !loggedIn;
    $('refresh').hidden = $('forget').hidden = !loggedIn;
  }

  async function open() {
    show(true);
    try {
      await load();
    } catch (err) {
      if (!(err instanceof Unauthorized)) throw err;
      sessionStorage.removeItem(TOKEN);
      show(false);
      $('login-error').textContent = err.message;
    }
  }

  $('login').addEventListener('submit', (e) => {
    e.preventDefault();
    sessionStorage.setItem(TOKEN, $('token').value);
    $('token').value = '';
    $('login-error').textContent = '';
    void open();
  });
  $('refresh').addEventListener('click', () => void open());
  $('forget').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN);
    show(false);
  });
  if (sessionStorage.getItem(TOKEN)) void open();
  else show(false);
  setInterval(() => sessionStorage.getItem(TOKEN) && !$('console').hidden && void load().catch(() => {}), 30_000);
})();
