import { apiKeys } from '../../shared/adapters/keys';
import { runtime } from '../../shared/adapters/runtime';
import { DomainError, notFound } from '../../shared/core/errors';
import { requireConfig } from '../../shared/services/inventory';
import { ASSETS, PAGE_HTML } from '../../ui/assets';
import { httpHandler, json } from './kernel';
import { viewToken } from './middlewares/view-token';
import {
  deliveryView,
  deploymentsView,
  summaryView,
  targetsView,
  timelineView,
  versionsView,
} from './presentation/status-read';
import { DEFAULT_VIEW_TTL_SECONDS, mintViewToken } from './presentation/view-token';
import { STATUS_PAGE_PATH, UI_ROUTES } from './routes/ui';
import { readJson, SECURITY_HEADERS } from './view';

/**
 * The status page (issue 9): view links, the page and its assets, and the read API the page polls
 * (its plan comes from api-plan). The page holds no API key: its read calls carry a view token
 * minted by a key with `read`.
 */

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const ASSET_BY_NAME = new Map(Object.entries(ASSETS));

export const handler = httpHandler(
  UI_ROUTES,
  {
    createViewLink: async (request) => {
      const body = request.body ?? {};
      const rt = runtime();
      if (body.deployment) await requireConfig(rt, 'deployment', body.deployment);
      const key = await apiKeys().find(request.caller.keyId);
      if (!key) throw new DomainError('unauthenticated', 'The signing key is no longer known.');
      const exp = Math.floor(Date.now() / 1000) + (body.ttlSeconds ?? DEFAULT_VIEW_TTL_SECONDS);
      const token = mintViewToken(key, exp, body.deployment);
      return json(201, {
        url: `${rt.publicUrl}${STATUS_PAGE_PATH}?v=${encodeURIComponent(token)}`,
        expiresAt: new Date(exp * 1000).toISOString(),
        deployment: body.deployment ?? null,
      });
    },
    home: async () => ({ status: 302, headers: { location: STATUS_PAGE_PATH } }),
    statusPage: async () => ({
      status: 200,
      body: PAGE_HTML,
      contentType: 'text/html; charset=utf-8',
      headers: { 'cache-control': 'no-store', 'content-security-policy': CSP, ...SECURITY_HEADERS },
    }),
    statusPageAsset: async (request) => {
      const { name } = request.params;
      const asset = ASSET_BY_NAME.get(name);
      if (!asset) throw notFound(`The asset "${name}"`);
      return {
        status: 200,
        body: asset.body,
        contentType: asset.contentType,
        // The page names each asset with its content hash (?h=), so a new build is fetched at once.
        headers: { 'cache-control': 'public, max-age=3600', ...SECURITY_HEADERS },
      };
    },
    // A nextToken from another list (or forged) is a 400 (middlewares/errors.ts).
    uiDeployments: async (request) =>
      readJson({
        ...(await deploymentsView(runtime(), request.grant.deployment)),
        expiresAt: request.grant.expiresAt,
      }),
    uiSummary: async (request) =>
      readJson(await summaryView(runtime(), request.query.deployment, request.query.tag)),
    uiTargets: async (request) => {
      const { deployment, tag, ...query } = request.query;
      return readJson(await targetsView(runtime(), deployment, tag, query));
    },
    uiVersions: async (request) => readJson(await versionsView(runtime(), request.query.deployment)),
    uiTimeline: async (request) => {
      const { deployment, tag, ...query } = request.query;
      return readJson(await timelineView(runtime(), deployment, tag, query));
    },
    uiDeliveryMetrics: async (request) => readJson(await deliveryView(runtime(), request.query)),
  },
  { view: viewToken() },
);
