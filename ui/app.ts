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
const state = {
  deployment: null, tag: null, follow: true, updatedAt: null, seq: 0, timer: 0, stopped: false, statuses: null, versionsKey: '', settled: '',
  // The drill-down: one environment, filtered, one page at a time (pages: the nextTokens that led here).
  environment: null, status: '', q: '', pages: [], next: null, timelineKey: '', timelineAt: 0, showTimeline: false, summary: null,
  // The delivery metrics' chart: its environment ('' for all), and which read it shows since when.
  metricsEnvironment: '', metricsKey: '', metricsAt: 0,
};
const PAGE_SIZE = 50;
const BIG_VERSION = 500;
const SLOW_POLL_MS = 10000;
const METRICS_POLL_MS = 30000;

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

// What each read loads, so an error says what failed.
const READS = {
  deployments: 'the deployments', summary: 'the summary', versions: 'the versions', targets: 'the targets',
  timeline: 'the timeline', plan: 'the plan', metrics: 'the delivery metrics', freezes: 'the freezes',
};

async function api(path, params) {
  const query = new URLSearchParams(params || {}).toString();
  const failure = 'Could not load ' + READS[path] + ': ';
  let res;
  try {
    res = await fetch('/ui/api/' + path + (query ? '?' + query : ''), {
      headers: { authorization: 'View ' + token },
      cache: 'no-store',
    });
  } catch {
    throw new Error(failure + 'the service did not answer.');
  }
  const body = await res.json().catch(() => ({}));
  const message = failure + (body.error ? body.error.message : 'the service answered ' + res.status + '.');
  if (res.status === 401 || res.status === 403) throw new LinkError(message);
  if (!res.ok) throw new Error(message);
  return body;
}

/** The header's state ("Loading…" until the first answer): every way the page ends up sets it. */
function showState(text) {
  byId('updated').textContent = text;
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

// ---- the summary: one row per environment ---------------------------------------------------------

const ORDER = ['failed', 'rolling_back', 'rolled_back', 'deploying', 'verifying', 'waiting', 'pending', 'successful', 'superseded', 'cancelled'];
const percent = (part, whole) => (whole ? Math.floor((part / whole) * 100) : 0);
const count = (n) => n.toLocaleString('en');

function progress(env) {
  const bar = h('div', { class: 'progress', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': env.total, 'aria-valuenow': env.successful, 'aria-label': env.name + ': successful releases' });
  let left = 0;
  // Stacked in the order of ORDER: problems first, then work in flight, then done.
  for (const status of ORDER.slice().reverse()) {
    const n = env.counts[status] || 0;
    if (!n) continue;
    const part = h('span', { class: 'part tone-' + toneOf(status) });
    part.style.left = (left / env.total) * 100 + '%';
    part.style.width = (n / env.total) * 100 + '%';
    left += n;
    bar.append(part);
  }
  return h('div', { class: 'progress-cell' }, bar,
    h('span', { class: 'progress-text' }, count(env.successful) + ' / ' + count(env.total) + ' successful (' + percent(env.successful, env.total) + '%)'));
}

function countsOf(env) {
  const out = ORDER.filter((status) => env.counts[status]).map((status) =>
    h('button', { type: 'button', class: 'count badge tone-' + toneOf(status), 'data-environment': env.id, 'data-status': status },
      h('span', { 'aria-hidden': 'true' }, GLYPH[toneOf(status)] + ' '), count(env.counts[status]) + ' ' + statusText(status),
      srOnly(': show these targets')));
  return out.length ? out : h('span', { class: 'muted' }, 'no releases');
}

/** What the waiting releases wait for, gate by gate. */
function waitsOf(env) {
  const gates = Object.entries(env.waitingFor);
  return gates.length ? h('span', { class: 'why' }, 'waiting for ' + gates.map(([g, n]) => gate(g) + ' (' + count(n) + ')').join(', ')) : null;
}

function runningOf(env) {
  const items = env.current.map((c) => h('li', {}, h('span', { class: 'version' }, c.version || 'never deployed'), ' ' + count(c.count)));
  if (env.others) items.push(h('li', { class: 'muted' }, 'other versions ' + count(env.others)));
  return items.length ? h('ul', { class: 'running' }, items) : h('span', { class: 'muted' }, 'nothing yet');
}

function renderSummary(summary) {
  const rows = summary.environments.map((env) =>
    h('tr', { 'data-environment': env.id, class: env.id === state.environment ? 'selected' : null },
      h('th', { scope: 'row' }, env.name, env.name !== env.id ? h('span', { class: 'id' }, env.id) : null),
      h('td', {}, progress(env)),
      h('td', {}, h('div', { class: 'counts' }, countsOf(env)), waitsOf(env)),
      h('td', {}, runningOf(env)),
      h('td', {}, h('button', { type: 'button', class: 'open', 'data-environment': env.id, 'aria-pressed': String(env.id === state.environment) },
        'Targets', srOnly(' in ' + env.name)))));
  const version = summary.version;
  const caption = version ? 'Version ' + version.tag + ' (' + version.status + ') per environment' : 'No versions yet';
  const table = h('table', { class: 'summary' },
    h('caption', { class: 'sr-only' }, caption),
    h('thead', {}, h('tr', {}, ['Environment', 'Progress of ' + (version ? version.tag : 'the version'), 'Releases by status', 'Running now', ''].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: 5 }, 'No environments yet.'))));
  byId('summary').replaceChildren(table);
  byId('summary-total').textContent = version
    ? count(summary.successful) + ' of ' + count(summary.total) + ' releases of ' + version.tag + ' successful'
    : '';
  const paused = byId('paused');
  paused.hidden = !summary.deployment.paused;
  paused.textContent = summary.deployment.paused
    ? 'Paused: no job is dispatched for this deployment' + (summary.deployment.pausedReason ? ' (' + summary.deployment.pausedReason + ')' : '') + '.'
    : '';
  if (state.environment && !summary.environments.some((e) => e.id === state.environment)) closeDrill();
}

/** Active freezes (docs/api.md section 10): what holds the releases, where, and until when. */
function renderFreezes(freezes) {
  const frozen = byId('frozen');
  frozen.hidden = freezes.length === 0;
  frozen.textContent = freezes
    .map((f) => 'Frozen in ' + f.environments.join(', ') + ': ' + f.reason + ' (freeze ' + f.id + ', ' + (f.until ? 'until ' + new Date(f.until).toISOString().replace('.000Z', 'Z') : 'until it is ended') + ').')
    .join(' ');
}

// ---- the drill-down: one environment's targets, searched, filtered and paged by the server ------------

function selection(extra) {
  const params = { deployment: state.deployment, tag: state.tag, environment: state.environment, limit: PAGE_SIZE };
  if (state.status) params.status = state.status;
  if (state.q) params.q = state.q;
  const token = state.pages[state.pages.length - 1];
  if (token) params.nextToken = token;
  return Object.assign(params, extra || {});
}

function renderTargets(page, envName) {
  byId('drill-title').textContent = 'Targets in ' + envName;
  const rows = page.items.map((t) => {
    const why = t.status === 'waiting' && t.waitingFor ? 'for ' + gate(t.waitingFor) : null;
    const moving = t.currentVersion && t.currentVersion !== state.tag;
    return h('tr', { 'data-resource': t.resource, 'data-status': t.status, class: 'tone-' + toneOf(t.status) },
      h('th', { scope: 'row' }, t.name, t.name !== t.resource ? h('span', { class: 'id' }, t.resource) : null),
      h('td', { class: 'state', title: t.message || null }, badge(t.status), why ? h('span', { class: 'why' }, why) : null,
        t.message && t.status !== 'waiting' ? h('span', { class: 'why' }, t.message) : null),
      h('td', {}, h('span', { class: 'version' }, state.tag), moving ? h('span', { class: 'from' }, 'from ' + t.currentVersion) : null),
      h('td', {}, t.startedAt ? clock(t.startedAt) : '\u2013'));
  });
  const empty = state.q || state.status ? 'No targets match.' : 'No release targets of this version here.';
  const table = h('table', { class: 'targets' },
    h('caption', { class: 'sr-only' }, 'Targets in ' + envName + ', page ' + (state.pages.length + 1)),
    h('thead', {}, h('tr', {}, ['Resource', 'Status', 'Version', 'Started'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: 4 }, empty))));
  byId('targets').replaceChildren(table);
  state.next = page.nextToken || null;
  byId('prev').disabled = state.pages.length === 0;
  byId('next').disabled = !state.next;
  byId('page-no').textContent = 'Page ' + (state.pages.length + 1) + (page.items.length < PAGE_SIZE && state.next ? ' (searched part of the fleet: next searches on)' : '');
  // Tell screen readers what changed since the last poll of the same page (not the first time).
  const statuses = new Map(page.items.map((t) => [t.resource + ' in ' + t.environment, t.status]));
  if (state.statuses) {
    const changes = [];
    for (const [target, status] of statuses)
      if (state.statuses.has(target) && state.statuses.get(target) !== status) changes.push(target + ': ' + statusText(status));
    announce(changes.length > 4 ? changes.length + ' targets changed status.' : changes.join('. '));
  }
  state.statuses = statuses;
}

function openDrill(environment, status) {
  state.environment = environment;
  if (status !== undefined) {
    state.status = status;
    byId('status-filter').value = status;
  }
  state.pages = [];
  state.statuses = null;
  byId('drill').hidden = false;
  remember();
  refreshDrill();
}

function closeDrill() {
  state.environment = null;
  state.pages = [];
  state.statuses = null;
  byId('drill').hidden = true;
  remember();
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

// ---- delivery metrics: the four measures and a bar chart of each day's releases (SVG, drawn here) --------

/** SVG elements, in the namespace of the page's own (empty) chart element. */
function svg(tag, attrs, ...children) {
  const el = document.createElementNS(byId('metrics-svg').namespaceURI, tag);
  for (const [name, value] of Object.entries(attrs || {})) el.setAttribute(name, String(value));
  for (const child of children) el.append(child);
  return el;
}

/** Seconds as the measures show them; a dash without data. */
function seconds(s) {
  if (s === null || s === undefined) return '\u2013';
  return s >= 172800 ? (s / 86400).toFixed(1) + ' days' : duration(s * 1000);
}

const plural = (n, word) => count(n) + ' ' + word + (n === 1 ? '' : 's');

function renderMeasures(m) {
  const c = m.counts;
  const rate = m.changeFailureRate === null ? '\u2013' : (m.changeFailureRate * 100).toFixed(1) + '%';
  const items = [
    ['deploymentsPerDay', 'Deployments per day', String(m.deploymentsPerDay), count(c.successful) + ' successful in ' + c.days + ' days'],
    ['leadTime', 'Lead time (p50, p90)', seconds(m.leadTimeSeconds.p50) + ', ' + seconds(m.leadTimeSeconds.p90), 'commit to success, ' + plural(c.leadTimes, 'release')],
    ['changeFailureRate', 'Change failure rate', rate, count(c.failed + c.rolledBack) + ' of ' + count(c.finished) + ' failed or rolled back'],
    ['timeToRestore', 'Time to restore (p50)', seconds(m.timeToRestoreSeconds.p50), plural(c.restores, 'restore')],
  ];
  byId('metrics-measures').replaceChildren(...items.map(([id, name, value, basis]) =>
    h('div', { class: 'measure', 'data-measure': id }, h('dt', {}, name), h('dd', { class: 'value' }, value), h('dd', { class: 'basis' }, basis))));
}

/** One bar a day, successful at the bottom and failed or rolled back on top, scaled to the busiest day. */
function renderChart(daily) {
  const BAR = 10;
  const HEIGHT = 100;
  const bad = (d) => d.failed + d.rolledBack;
  const max = Math.max(1, ...daily.map((d) => d.successful + bad(d)));
  const ok = daily.reduce((n, d) => n + d.successful, 0);
  const failed = daily.reduce((n, d) => n + bad(d), 0);
  const bars = daily.map((d, i) => {
    const okHeight = (d.successful / max) * HEIGHT;
    const badHeight = (bad(d) / max) * HEIGHT;
    return svg('g', { 'data-day': d.day, 'data-successful': d.successful, 'data-failed': bad(d) },
      svg('title', {}, d.day + ': ' + d.successful + ' successful, ' + bad(d) + ' failed or rolled back'),
      svg('rect', { class: 'chart-ok', x: i * BAR + 1, y: HEIGHT - okHeight, width: BAR - 2, height: okHeight }),
      svg('rect', { class: 'chart-bad', x: i * BAR + 1, y: HEIGHT - okHeight - badHeight, width: BAR - 2, height: badHeight }));
  });
  const first = daily.length ? daily[0].day : '';
  const last = daily.length ? daily[daily.length - 1].day : '';
  const chart = byId('metrics-svg');
  chart.setAttribute('viewBox', '0 0 ' + Math.max(1, daily.length * BAR) + ' ' + HEIGHT);
  chart.setAttribute('aria-label', 'Releases per day, ' + first + ' to ' + last + ': ' + ok + ' successful, ' + failed + ' failed or rolled back; the busiest day had ' + max + '.');
  chart.replaceChildren(...bars);
  byId('metrics-axis').replaceChildren(h('span', {}, first), h('span', {}, 'busiest day: ' + max), h('span', {}, last));
}

/** The environments the chart can be narrowed to: the summary's, the choice kept. */
function renderMetricsEnvironments(summary) {
  const select = byId('metrics-environment');
  const ids = summary.environments.map((e) => e.id).join(',');
  if (select.dataset.ids !== ids) {
    select.dataset.ids = ids;
    select.replaceChildren(h('option', { value: '' }, 'all environments'), ...summary.environments.map((e) => h('option', { value: e.id }, e.name)));
  }
  if (state.metricsEnvironment && !summary.environments.some((e) => e.id === state.metricsEnvironment)) state.metricsEnvironment = '';
  select.value = state.metricsEnvironment;
}

/** The measures change slowly: read again every 30 s, or at once when the deployment or environment changes. */
async function refreshMetrics(deployment, seq) {
  const params = state.metricsEnvironment ? { deployment, environment: state.metricsEnvironment } : { deployment };
  const key = JSON.stringify(params);
  if (key === state.metricsKey && Date.now() - state.metricsAt < METRICS_POLL_MS) return;
  const metrics = await api('metrics', params);
  if (seq !== state.seq) return;
  state.metricsKey = key;
  state.metricsAt = Date.now();
  renderMeasures(metrics);
  renderChart(metrics.daily);
}

// ---- the loop ----------------------------------------------------------------------------------

async function refresh() {
  clearTimeout(state.timer);
  if (state.stopped || !state.deployment) return;
  const seq = ++state.seq;
  const deployment = state.deployment;
  try {
    // The drill-down's page is asked for with the summary, not after it (a click shows it sooner).
    const asked = state.environment && state.tag ? JSON.stringify(selection()) : null;
    const early = asked ? api('targets', JSON.parse(asked)).catch(() => null) : null;
    const [summary, versions, freezes] = await Promise.all([
      api('summary', state.follow || !state.tag ? { deployment } : { deployment, tag: state.tag }),
      api('versions', { deployment }),
      api('freezes', { deployment }),
    ]);
    if (seq !== state.seq) return;
    renderVersions(versions);
    renderFreezes(freezes.items);
    if (state.follow && summary.version) state.tag = summary.version.tag;
    state.summary = summary;
    renderSummary(summary);
    state.updatedAt = summary.now;
    showState('Live \u00B7 updated ' + clock(summary.now));
    renderMetricsEnvironments(summary);
    await refreshMetrics(deployment, seq);
    if (seq !== state.seq) return;
    const tag = state.tag;
    const env = summary.environments.find((e) => e.id === state.environment);
    if (env && tag) {
      const page = asked === JSON.stringify(selection()) ? await early : null;
      renderTargets(page || (await api('targets', selection())), env.name);
      if (seq !== state.seq) return;
    } else if (env) {
      byId('targets').replaceChildren(h('p', { class: 'muted' }, 'No versions yet.'));
    }
    notice('');
    const version = versions.items.find((v) => v.tag === tag);
    // The timeline of the targets the drill-down shows (the first page of all of them without one).
    const shown = env ? selection() : { deployment, tag, limit: PAGE_SIZE };
    const key = JSON.stringify(shown);
    // An older version whose releases all finished does not change: draw it once, then stop asking.
    // Over a big version the timeline and the plan are the costliest reads (their events and plan span
    // the version): drawn when asked for, then every 10 s and at once when what they show changes, so
    // the polls that keep the summary and the drill-down live stay light.
    const big = summary.total > BIG_VERSION;
    byId('timeline-ask').hidden = !big || state.showTimeline || !tag;
    if (big && !state.showTimeline) {
      byId('timeline').replaceChildren();
      byId('plan-section').hidden = true;
      byId('timeline-note').textContent = count(summary.total) + ' targets: the timeline is drawn for the targets shown when asked.';
    }
    const due = key !== state.timelineKey || !big || Date.now() - state.timelineAt >= SLOW_POLL_MS;
    if (tag && version && state.settled !== key && due && (!big || state.showTimeline)) {
      state.timelineKey = key;
      state.timelineAt = Date.now();
      const timeline = await api('timeline', shown);
      if (seq !== state.seq) return;
      const older = versions.items[0] && versions.items[0].tag !== tag;
      if (older && timeline.rows.length && timeline.rows.every((r) => FINISHED.has(r.status))) state.settled = key;
      renderTimeline(byId('timeline'), timeline, { caption: 'Timeline of version ' + tag + ': one row per release target', empty: 'No releases yet: the version is ' + version.status + '.' });
      byId('timeline-note').textContent = timeline.nextToken
        ? (env ? 'The targets of this page of ' + env.name + '.' : 'The first ' + timeline.rows.length + ' targets: open an environment to page through its targets.')
        : '';
      byId('timeline').hidden = version.status === 'building' && timeline.rows.length === 0;
      const ahead = version.status === 'building' || timeline.rows.some((r) => r.status === 'pending' || r.status === 'waiting');
      byId('plan-section').hidden = !ahead;
      if (ahead) {
        const plan = await api('plan', { deployment, tag });
        if (seq !== state.seq) return;
        renderTimeline(byId('plan'), plan, { planned: true, caption: 'Plan of version ' + tag + ': estimated starts per release target', empty: 'No release targets.' });
        byId('plan-notes').textContent = 'Estimates assume ' + plan.assumptions.join(' and ') + '.' + (plan.warnings.length ? ' Warnings: ' + plan.warnings.join('; ') + '.' : '') +
          (plan.rowCount > plan.rows.length ? ' The first ' + plan.rows.length + ' of ' + count(plan.rowCount) + ' targets.' : '');
      }
    } else if (!tag) {
      byId('timeline').replaceChildren();
      byId('plan-section').hidden = true;
    }
  } catch (error) {
    failed(error);
  }
  if (seq === state.seq) state.timer = setTimeout(refresh, document.hidden ? POLL_MS * 5 : POLL_MS);
}

/**
 * A click in the drill-down (an environment, a filter, a search, a page) asks for that page alone and
 * draws it at once; the summary it drew with is the last poll's, and the next poll refreshes all.
 */
async function refreshDrill() {
  if (!state.summary || !state.tag || !state.environment) return refresh();
  clearTimeout(state.timer);
  if (state.stopped) return;
  const seq = ++state.seq;
  try {
    const page = await api('targets', selection());
    if (seq !== state.seq) return;
    renderSummary(state.summary);
    const env = state.summary.environments.find((e) => e.id === state.environment);
    renderTargets(page, env ? env.name : state.environment);
    notice('');
  } catch (error) {
    failed(error);
  }
  if (seq === state.seq) state.timer = setTimeout(refresh, POLL_MS);
}

function failed(error) {
  if (error instanceof LinkError) {
    state.stopped = true;
    showState('Stopped');
    notice(error.message + ' Ask for a new link with gantry open.', 'error');
    return;
  }
  showState((state.updatedAt ? 'Updated ' + clock(state.updatedAt) : 'Not loaded') + ' \u00B7 retrying');
  notice(error.message + ' Trying again.', 'warn');
}

function remember() {
  const params = new URLSearchParams();
  if (state.deployment) params.set('d', state.deployment);
  if (state.tag && !state.follow) params.set('t', state.tag);
  if (state.environment) params.set('e', state.environment);
  if (state.status) params.set('s', state.status);
  if (state.q) params.set('q', state.q);
  history.replaceState(null, '', '#' + params.toString());
}

async function start() {
  if (!token) {
    showState('No view link');
    notice('This page needs a view link. Get one with gantry open (or POST /v1/view-links with a read key).', 'error');
    return;
  }
  const saved = new URLSearchParams(location.hash.slice(1));
  let deployments;
  try {
    deployments = await api('deployments');
  } catch (error) {
    showState(error instanceof LinkError ? 'Stopped' : 'Not loaded');
    notice(error.message + (error instanceof LinkError ? ' Ask for a new link with gantry open.' : ' Reload to try again.'), 'error');
    return;
  }
  byId('expires').textContent = 'Link valid until ' + new Date(deployments.expiresAt).toLocaleString();
  const select = byId('deployment');
  select.replaceChildren(...deployments.items.map((d) => h('option', { value: d.id }, d.name === d.id ? d.id : d.name + ' (' + d.id + ')')));
  if (!deployments.items.length) {
    showState('No deployments yet');
    notice('No deployments yet: the page shows them once one is created (PUT /v1/deployments/{id}); reload then.', 'warn');
    return;
  }
  const wanted = saved.get('d');
  state.deployment = deployments.items.some((d) => d.id === wanted) ? wanted : deployments.items[0].id;
  select.value = state.deployment;
  if (saved.get('t')) {
    state.tag = saved.get('t');
    state.follow = false;
  }
  state.status = saved.get('s') || '';
  state.q = saved.get('q') || '';
  byId('status-filter').value = state.status;
  byId('search').value = state.q;
  if (saved.get('e')) {
    state.environment = saved.get('e');
    byId('drill').hidden = false;
  }
  select.addEventListener('change', () => {
    state.deployment = select.value;
    state.summary = null;
    state.updatedAt = null;
    state.tag = null;
    state.follow = true;
    state.statuses = null;
    state.versionsKey = '';
    state.metricsEnvironment = '';
    closeDrill();
    refresh();
  });
  byId('metrics-environment').addEventListener('change', (event) => {
    state.metricsEnvironment = event.target.value;
    refresh();
  });
  byId('version').addEventListener('change', (event) => {
    state.tag = event.target.value;
    state.follow = event.target.selectedIndex === 0;
    state.pages = [];
    state.statuses = null;
    remember();
    refresh();
  });
  // A row's Targets button opens its environment; a count opens it filtered by that status. Closing is
  // the drill-down's own button, so a second click (or a click on a stale row) never hides it.
  byId('summary').addEventListener('click', (event) => {
    const button = event.target.closest('button[data-environment]');
    if (!button) return;
    const env = button.getAttribute('data-environment');
    if (button.classList.contains('count')) openDrill(env, button.getAttribute('data-status'));
    else if (state.environment !== env) openDrill(env);
  });
  byId('drill-close').addEventListener('click', () => {
    closeDrill();
    refresh();
  });
  byId('status-filter').addEventListener('change', (event) => {
    state.status = event.target.value;
    state.pages = [];
    remember();
    refreshDrill();
  });
  let typing = 0;
  byId('search').addEventListener('input', (event) => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      state.q = event.target.value.trim();
      state.pages = [];
      remember();
      refreshDrill();
    }, 250);
  });
  byId('timeline-ask').addEventListener('click', () => {
    state.showTimeline = true;
    refresh();
  });
  byId('next').addEventListener('click', () => {
    if (!state.next) return;
    state.pages.push(state.next);
    state.statuses = null;
    refreshDrill();
  });
  byId('prev').addEventListener('click', () => {
    state.pages.pop();
    state.statuses = null;
    refreshDrill();
  });
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) refresh();
  });
  refresh();
}

start();
`;
