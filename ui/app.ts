/**
 * The status page's script, served as /ui/assets/app.js: a plain ES module for current browsers, no
 * framework and no build step. It holds no API key: every read carries the view token of the page
 * link (`?v=`) as `Authorization: View <token>`, and it polls every 2 s. Every value reaches the DOM
 * through textContent, never as HTML. Kept as a string so esbuild bundles it into the Lambda.
 */
export const APP_JS = String.raw`
const POLL_MS = 2000;
const token = new URLSearchParams(location.search).get('v');
const byId = (id) => document.getElementById(id);
const state = { deployment: null, tag: null, follow: true, seq: 0, timer: 0, stopped: false, statuses: null, versionsKey: '', settled: '' };

const STATUS_TEXT = {
  pending: 'pending', waiting: 'waiting', deploying: 'deploying', verifying: 'verifying',
  successful: 'successful', failed: 'failed', rolling_back: 'rolling back', rolled_back: 'rolled back',
  superseded: 'superseded', cancelled: 'cancelled',
};
const TONE = {
  successful: 'ok', deploying: 'busy', verifying: 'busy', pending: 'wait', waiting: 'wait',
  failed: 'bad', rolling_back: 'bad', rolled_back: 'bad', superseded: 'idle', cancelled: 'idle',
};
const GLYPH = { ok: '\u2713', busy: '\u25B6', wait: '\u25CB', bad: '\u00D7', idle: '\u2013' };
const FINISHED = new Set(['successful', 'failed', 'rolled_back', 'superseded', 'cancelled']);

class LinkError extends Error {}

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'class') el.className = value;
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

const srOnly = (text) => h('span', { class: 'sr-only' }, text);
const gate = (value) => String(value).replace(/_/g, ' ');
const statusText = (status) => (status ? STATUS_TEXT[status] || gate(status) : 'never deployed');
const toneOf = (status) => (status ? TONE[status] || 'idle' : 'idle');

function badge(status) {
  const tone = toneOf(status);
  return h('span', { class: 'badge tone-' + tone }, h('span', { 'aria-hidden': 'true' }, GLYPH[tone] + ' '), statusText(status));
}

function clock(iso) {
  return new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

function duration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return s + 's';
  const m = Math.floor(s / 60);
  if (m < 60) return m + 'm ' + String(s % 60).padStart(2, '0') + 's';
  return Math.floor(m / 60) + 'h ' + String(m % 60).padStart(2, '0') + 'm';
}

async function api(path, params) {
  const query = new URLSearchParams(params || {}).toString();
  const res = await fetch('/ui/api/' + path + (query ? '?' + query : ''), {
    headers: { authorization: 'View ' + token },
    cache: 'no-store',
  });
  const body = await res.json().catch(() => ({}));
  const message = body.error ? body.error.message : 'The service answered ' + res.status + '.';
  if (res.status === 401 || res.status === 403) throw new LinkError(message);
  if (!res.ok) throw new Error(message);
  return body;
}

function notice(text, kind) {
  const el = byId('notice');
  el.hidden = !text;
  el.className = 'notice' + (kind ? ' ' + kind : '');
  el.textContent = text || '';
}

function announce(text) {
  if (text) byId('live').textContent = text;
}

// ---- the release matrix ------------------------------------------------------------------------

function cellOf(cell) {
  if (!cell) return h('td', { class: 'cell empty' }, h('span', { 'aria-hidden': 'true' }, '\u00B7'), srOnly('no release target'));
  const version = cell.desiredVersion || cell.currentVersion;
  const moving = cell.currentVersion && cell.desiredVersion && cell.currentVersion !== cell.desiredVersion;
  const why = cell.status === 'waiting' && cell.waitingFor ? 'for ' + gate(cell.waitingFor) : null;
  return h(
    'td',
    { class: 'cell tone-' + toneOf(cell.status), 'data-status': cell.status || 'none', title: cell.message || null },
    badge(cell.status),
    version ? h('span', { class: 'version' }, version) : null,
    moving ? h('span', { class: 'from' }, 'from ' + cell.currentVersion) : null,
    why ? h('span', { class: 'why' }, why) : null,
    cell.message && cell.status !== 'waiting' ? h('span', { class: 'why' }, cell.message) : null,
  );
}

function renderMatrix(matrix) {
  const byKey = new Map(matrix.cells.map((c) => [c.environment + '\n' + c.resource, c]));
  const head = h('tr', {}, h('th', { scope: 'col' }, 'Resource'),
    matrix.environments.map((e) => h('th', { scope: 'col' }, e.name, e.name !== e.id ? h('span', { class: 'id' }, e.id) : null)));
  const rows = matrix.resources.map((r) =>
    h('tr', {},
      h('th', { scope: 'row' }, r.name, r.name !== r.id ? h('span', { class: 'id' }, r.id) : null),
      matrix.environments.map((e) => cellOf(byKey.get(e.id + '\n' + r.id)))));
  const table = h('table', { class: 'matrix' },
    h('caption', { class: 'sr-only' }, 'Release matrix of ' + matrix.deployment.name + ': environments as columns, resources as rows'),
    h('thead', {}, head),
    h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: matrix.environments.length + 1 }, 'No release targets yet.'))));
  byId('matrix').replaceChildren(table);
  const paused = byId('paused');
  paused.hidden = !matrix.deployment.paused;
  paused.textContent = matrix.deployment.paused
    ? 'Paused: no job is dispatched for this deployment' + (matrix.deployment.pausedReason ? ' (' + matrix.deployment.pausedReason + ')' : '') + '.'
    : '';
  // Tell screen readers what changed since the last poll (not the first time).
  const statuses = new Map(matrix.cells.map((c) => [c.resource + ' in ' + c.environment, c.status]));
  if (state.statuses) {
    const changes = [];
    for (const [target, status] of statuses)
      if (state.statuses.get(target) !== status) changes.push(target + ': ' + statusText(status));
    announce(changes.length > 4 ? changes.length + ' targets changed status.' : changes.join('. '));
  }
  state.statuses = statuses;
}

// ---- versions ----------------------------------------------------------------------------------

function renderVersions(versions) {
  const items = versions.items;
  const newest = items[0] ? items[0].tag : null;
  if (state.follow || !items.some((v) => v.tag === state.tag)) state.tag = newest;
  const key = items.map((v) => v.tag + ':' + v.status).join(',');
  const select = byId('version');
  if (key !== state.versionsKey) {
    state.versionsKey = key;
    select.replaceChildren(...items.map((v) => h('option', { value: v.tag }, v.tag + ' (' + v.status + ', ' + clock(v.createdAt) + ')')));
  }
  select.disabled = items.length === 0;
  if (state.tag) select.value = state.tag;
  byId('timeline-empty').hidden = items.length > 0;
}

// ---- timelines (the past and the plan) -----------------------------------------------------------

function ticks(start, end) {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400];
  const span = (end - start) / 1000;
  const step = (steps.find((s) => span / s <= 6) || 86400) * 1000;
  const out = [];
  for (let t = Math.ceil(start / step) * step; t <= end; t += step) out.push(t);
  return out;
}

function renderTimeline(container, timeline, options) {
  const now = Date.parse(timeline.now);
  const start = Date.parse(timeline.start);
  const end = Math.max(Date.parse(timeline.end), start + 10000);
  // Room after the last bar (a plan ends with jobs drawn at their estimated start).
  const padded = end + (end - start) * (options.planned ? 0.12 : 0.03);
  const pct = (t) => ((t - start) / (padded - start)) * 100;
  const place = (el, from, to) => {
    el.style.left = pct(from) + '%';
    el.style.width = Math.max(0.8, pct(to) - pct(from)) + '%';
    return el;
  };
  const axis = h('div', { class: 'axis', 'aria-hidden': 'true' },
    // Labels too close to an edge would be cut off.
    ticks(start, padded).filter((t) => pct(t) > 3 && pct(t) < 95).map((t) => {
      const tick = h('span', { class: 'tick' }, clock(new Date(t).toISOString()));
      tick.style.left = pct(t) + '%';
      return tick;
    }));
  const rows = timeline.rows.map((row) => {
    const lane = h('div', { class: 'lane' });
    for (const s of row.segments) {
      const from = Date.parse(s.start);
      const to = s.end ? Date.parse(s.end) : now;
      if (s.until && Date.parse(s.until) > to) lane.append(place(h('div', { class: 'until', title: 'expected until ' + clock(s.until) }), to, Date.parse(s.until)));
      const when = (options.planned ? 'estimated ' : '') + clock(s.start) + (s.end ? ' to ' + clock(s.end) + ', ' + duration(to - from) : ', ongoing for ' + duration(now - from));
      const text = s.label + ': ' + when;
      lane.append(place(h('div', { class: 'seg phase-' + s.phase + (s.planned ? ' planned' : '') + (s.end ? '' : ' open'), title: text },
        h('span', { class: 'seg-label', 'aria-hidden': 'true' }, s.label.replace(/^waiting: /, '')), srOnly(text + '.')), from, to));
    }
    for (const m of row.markers) {
      const mark = h('span', { class: 'mark kind-' + m.kind, title: m.label + ' at ' + clock(m.time) }, srOnly(m.label + ' at ' + clock(m.time) + '.'));
      mark.style.left = pct(Date.parse(m.time)) + '%';
      lane.append(mark);
    }
    const nowLine = h('div', { class: 'now', 'aria-hidden': 'true' });
    nowLine.style.left = pct(now) + '%';
    lane.append(nowLine);
    if (!row.segments.length && !row.markers.length) lane.append(h('span', { class: 'lane-note' }, row.message || 'nothing yet'));
    return h('tr', {},
      h('th', { scope: 'row' }, row.resource, h('span', { class: 'id' }, row.environment)),
      h('td', { class: 'state' }, badge(row.status), row.waitingFor ? h('span', { class: 'why' }, 'for ' + gate(row.waitingFor)) : null),
      h('td', { class: 'track' }, lane));
  });
  const table = h('table', { class: 'gantt' + (options.planned ? ' is-plan' : '') },
    h('caption', { class: 'sr-only' }, options.caption),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Target'), h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col', class: 'track' }, srOnly('Timeline'), axis))),
    h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: 3 }, options.empty))));
  container.replaceChildren(table);
}

// ---- the loop ----------------------------------------------------------------------------------

async function refresh() {
  clearTimeout(state.timer);
  if (state.stopped || !state.deployment) return;
  const seq = ++state.seq;
  const deployment = state.deployment;
  try {
    const [matrix, versions] = await Promise.all([api('matrix', { deployment }), api('versions', { deployment })]);
    if (seq !== state.seq) return;
    renderMatrix(matrix);
    renderVersions(versions);
    const tag = state.tag;
    const version = versions.items.find((v) => v.tag === tag);
    const key = deployment + '\n' + tag;
    // An older version whose releases all finished does not change: draw it once, then stop asking.
    if (tag && state.settled !== key) {
      const timeline = await api('timeline', { deployment, tag });
      if (seq !== state.seq) return;
      const older = versions.items[0] && versions.items[0].tag !== tag;
      if (older && timeline.rows.length && timeline.rows.every((r) => FINISHED.has(r.status))) state.settled = key;
      renderTimeline(byId('timeline'), timeline, { caption: 'Timeline of version ' + tag + ': one row per release target', empty: 'No releases yet: the version is ' + version.status + '.' });
      byId('timeline').hidden = version.status === 'building' && timeline.rows.length === 0;
      const ahead = version.status === 'building' || timeline.rows.some((r) => r.status === 'pending' || r.status === 'waiting');
      byId('plan-section').hidden = !ahead;
      if (ahead) {
        const plan = await api('plan', { deployment, tag });
        if (seq !== state.seq) return;
        renderTimeline(byId('plan'), plan, { planned: true, caption: 'Plan of version ' + tag + ': estimated starts per release target', empty: 'No release targets.' });
        byId('plan-notes').textContent = 'Estimates assume ' + plan.assumptions.join(' and ') + '.' + (plan.warnings.length ? ' Warnings: ' + plan.warnings.join('; ') + '.' : '');
      }
    } else if (!tag) {
      byId('timeline').replaceChildren();
      byId('plan-section').hidden = true;
    }
    byId('updated').textContent = 'Live \u00B7 updated ' + clock(matrix.now);
    notice('');
  } catch (error) {
    if (error instanceof LinkError) {
      state.stopped = true;
      byId('updated').textContent = 'Stopped';
      notice(error.message + ' Ask for a new link with gantry open.', 'error');
      return;
    }
    notice('Could not refresh (' + error.message + '); trying again.', 'warn');
  }
  if (seq === state.seq) state.timer = setTimeout(refresh, document.hidden ? POLL_MS * 5 : POLL_MS);
}

function remember() {
  const params = new URLSearchParams();
  if (state.deployment) params.set('d', state.deployment);
  if (state.tag && !state.follow) params.set('t', state.tag);
  history.replaceState(null, '', '#' + params.toString());
}

async function start() {
  if (!token) {
    notice('This page needs a view link. Get one with gantry open (or POST /v1/view-links with a read key).', 'error');
    return;
  }
  const saved = new URLSearchParams(location.hash.slice(1));
  let deployments;
  try {
    deployments = await api('deployments');
  } catch (error) {
    notice(error.message + (error instanceof LinkError ? ' Ask for a new link with gantry open.' : ''), 'error');
    return;
  }
  byId('expires').textContent = 'Link valid until ' + new Date(deployments.expiresAt).toLocaleString();
  const select = byId('deployment');
  select.replaceChildren(...deployments.items.map((d) => h('option', { value: d.id }, d.name === d.id ? d.id : d.name + ' (' + d.id + ')')));
  if (!deployments.items.length) {
    notice('No deployments yet.', 'warn');
    return;
  }
  const wanted = saved.get('d');
  state.deployment = deployments.items.some((d) => d.id === wanted) ? wanted : deployments.items[0].id;
  select.value = state.deployment;
  if (saved.get('t')) {
    state.tag = saved.get('t');
    state.follow = false;
  }
  select.addEventListener('change', () => {
    state.deployment = select.value;
    state.tag = null;
    state.follow = true;
    state.statuses = null;
    state.versionsKey = '';
    remember();
    refresh();
  });
  byId('version').addEventListener('change', (event) => {
    state.tag = event.target.value;
    state.follow = event.target.selectedIndex === 0;
    remember();
    refresh();
  });
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) refresh();
  });
  refresh();
}

start();
`;
