import { createHash } from 'node:crypto';
import { RELEASE_STATUSES } from '../shared/core/status';
import { APP_JS } from './app';
import { STYLES_CSS } from './styles';

/**
 * The status page (GET /ui) and its assets (GET /ui/assets/{name}): TypeScript string constants, so
 * esbuild bundles them into the Lambda and `npm start` serves the same bytes. No CDN, no build step.
 */
export interface Asset {
  body: string;
  contentType: string;
}

export const ASSETS: Record<string, Asset | undefined> = {
  'app.js': { body: APP_JS, contentType: 'text/javascript; charset=utf-8' },
  'styles.css': { body: STYLES_CSS, contentType: 'text/css; charset=utf-8' },
};

/** `/ui/assets/<name>?h=<content hash>`: a new build changes the URL, so caches never serve an old one. */
const assetUrl = (name: string) =>
  `/ui/assets/${name}?h=${createHash('sha256')
    .update(ASSETS[name]?.body ?? '')
    .digest('hex')
    .slice(0, 12)}`;

const LEGEND = [
  ['tone-ok', 'successful'],
  ['tone-busy', 'deploying, verifying'],
  ['tone-wait', 'pending, waiting (for a gate)'],
  ['tone-bad', 'failed, rolling back, rolled back'],
  ['tone-idle', 'superseded, cancelled, never deployed'],
]
  .map(([tone, text]) => `<li><span class="swatch badge ${tone}"></span>${text}</li>`)
  .join('');

const GANTT_LEGEND = [
  ['phase-waiting', 'waiting (by gate)'],
  ['phase-deploying', 'job (deploy, drain)'],
  ['phase-verifying', 'verification'],
  ['phase-rolling_back', 'rollback'],
  ['planned', 'planned (estimate)'],
]
  .map(([phase, text]) => `<li><span class="swatch ${phase}"></span>${text}</li>`)
  .join('');

const STATUS_OPTIONS = RELEASE_STATUSES.map(
  (status) => `<option value="${status}">${status.replace('_', ' ')}</option>`,
).join('');

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Gantry status</title>
<link rel="stylesheet" href="${assetUrl('styles.css')}">
<script type="module" src="${assetUrl('app.js')}"></script>
</head>
<body>
<a class="skip" href="#main">Skip to the status</a>
<header class="bar">
  <h1>Gantry</h1>
  <label for="deployment">Deployment</label>
  <select id="deployment"></select>
  <div class="meta"><span id="updated">Loading…</span><span id="expires"></span></div>
</header>
<main id="main">
  <p id="notice" class="notice" role="alert" hidden></p>
  <section aria-labelledby="summary-title">
    <h2 id="summary-title">Environments</h2>
    <div class="controls">
      <label for="version">Version</label>
      <select id="version" disabled></select>
      <span id="summary-total" class="muted"></span>
    </div>
    <p id="paused" class="notice warn" hidden></p>
    <p id="frozen" class="notice warn" hidden></p>
    <div id="summary" class="scroll"></div>
    <ul class="legend" aria-label="Status colours">${LEGEND}</ul>
  </section>
  <section id="drill" aria-labelledby="drill-title" hidden>
    <h2 id="drill-title">Targets</h2>
    <div class="controls">
      <label for="search">Search</label>
      <input id="search" type="search" placeholder="resource id or name" autocomplete="off" maxlength="100">
      <label for="status-filter">Status</label>
      <select id="status-filter"><option value="">all statuses</option>${STATUS_OPTIONS}</select>
      <button type="button" id="drill-close">Back to all environments</button>
    </div>
    <div id="targets" class="scroll"></div>
    <nav class="pager" aria-label="Pages of targets">
      <button type="button" id="prev" disabled>Previous</button>
      <span id="page-no"></span>
      <button type="button" id="next" disabled>Next</button>
    </nav>
  </section>
  <section aria-labelledby="timeline-title">
    <h2 id="timeline-title">Version timeline</h2>
    <p id="timeline-note" class="muted"></p>
    <button type="button" id="timeline-ask" hidden>Draw the timeline of the targets shown</button>
    <p id="timeline-empty" class="muted" hidden>No versions yet.</p>
    <div id="timeline" class="scroll"></div>
    <div id="plan-section" hidden>
      <h3>Plan: what happens next</h3>
      <p id="plan-notes" class="muted"></p>
      <div id="plan" class="scroll"></div>
    </div>
    <ul class="legend" aria-label="Timeline bars">${GANTT_LEGEND}<li><span class="swatch now-swatch"></span>now</li></ul>
  </section>
  <section aria-labelledby="metrics-title">
    <h2 id="metrics-title">Delivery metrics, last 30 days</h2>
    <div class="controls">
      <label for="metrics-environment">Environment</label>
      <select id="metrics-environment"><option value="">all environments</option></select>
    </div>
    <dl id="metrics-measures" class="measures"></dl>
    <div id="metrics-chart"><svg id="metrics-svg" class="chart" role="img" preserveAspectRatio="none" viewBox="0 0 300 100"></svg><div id="metrics-axis" class="chart-axis" aria-hidden="true"></div></div>
    <ul class="legend" aria-label="Chart bars"><li><span class="swatch chart-ok"></span>successful releases</li><li><span class="swatch chart-bad"></span>failed or rolled back</li></ul>
  </section>
  <div id="live" class="sr-only" aria-live="polite" aria-atomic="true"></div>
</main>
</body>
</html>
`;
