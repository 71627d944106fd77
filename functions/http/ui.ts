import { apiKeys } from '../../shared/adapters/keys';
import { runtime } from '../../shared/adapters/runtime';
import { InvalidPageToken } from '../../shared/adapters/store/config';
import { ApiError, invalid, notFound } from '../../shared/core/errors';
import { requireConfig } from '../../shared/services/inventory';
import { ASSETS, PAGE_HTML } from '../../ui/assets';
import { httpHandler, json } from './kernel';
import {
  deploymentsView,
  summaryView,
  type TargetQuery,
  targetsView,
  timelineView,
  versionsView,
} from './presentation/status-read';
import { DEFAULT_VIEW_TTL_SECONDS, mintViewToken } from './presentation/view-token';
import { STATUS_PAGE_PATH, UI_ROUTES } from './routes/ui';
import { grantOf, readJson, SECURITY_HEADERS } from './view';

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

type OfDeployment = { deployment: string };
type OfVersion = { deployment: string; tag: string };
type Selection = OfVersion & TargetQuery;

/** A nextToken from another list (or forged) is the caller's mistake: 400, not 500. */
async function paged<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof InvalidPageToken) throw invalid(error.message);
    throw error;
  }
}

export const handler = httpHandler(UI_ROUTES, {
  createViewLink: async (request) => {
    const body = (request.body ?? {}) as { ttlSeconds?: number; deployment?: string };
    const rt = runtime();
    if (body.deployment) await requireConfig(rt, 'deployment', body.deployment);
    const key = await apiKeys().find(request.caller?.keyId ?? '');
    if (!key) throw new ApiError('unauthenticated', 'The signing key is no longer known.');
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
    const name = request.params.name as string;
    const asset = Object.hasOwn(ASSETS, name) ? ASSETS[name as keyof typeof ASSETS] : undefined;
    if (!asset) throw notFound(`The asset "${request.params.name}"`);
    return {
      status: 200,
      body: asset.body,
      contentType: asset.contentType,
      // The page names each asset with its content hash (?h=), so a new build is fetched at once.
      headers: { 'cache-control': 'public, max-age=3600', ...SECURITY_HEADERS },
    };
  },
  uiDeployments: async (request) => {
    const grant = await grantOf(request);
    return readJson({ ...(await deploymentsView(runtime(), grant.deployment)), expiresAt: grant.expiresAt });
  },
  uiSummary: async (request) => {
    const { deployment, tag } = request.query as OfDeployment & { tag?: string };
    await grantOf(request, deployment);
    return readJson(await summaryView(runtime(), deployment, tag));
  },
  uiTargets: async (request) => {
    const { deployment, tag, ...query } = request.query as unknown as Selection;
    await grantOf(request, deployment);
    return readJson(await paged(() => targetsView(runtime(), deployment, tag, query)));
  },
  uiVersions: async (request) => {
    const { deployment } = request.query as OfDeployment;
    await grantOf(request, deployment);
    return readJson(await versionsView(runtime(), deployment));
  },
  uiTimeline: async (request) => {
    const { deployment, tag, ...query } = request.query as unknown as Selection;
    await grantOf(request, deployment);
    return readJson(await paged(() => timelineView(runtime(), deployment, tag, query)));
  },
});
