/**
 * `gantry open`: mints a short-lived, read-only link to the status page (POST /v1/view-links). The
 * link holds no API secret; it expires after `ttlSeconds` (default 3600, at most 86400) and, with
 * `deployment`, reads only that deployment. The caller prints it or hands it to a browser.
 */
export interface ViewLink {
  url: string;
  expiresAt: string;
}

export interface OpenOptions {
  deployment?: string;
  ttlSeconds?: number;
}

/** Anything that POSTs signed JSON and answers the parsed body of a 2xx (the CLI's GantryClient). */
export interface Poster {
  request<T>(method: string, path: string, body?: unknown): Promise<T>;
}

export async function openLink(client: Poster, opts: OpenOptions = {}): Promise<string> {
  const body: OpenOptions = {};
  if (opts.deployment !== undefined) body.deployment = opts.deployment;
  if (opts.ttlSeconds !== undefined) body.ttlSeconds = opts.ttlSeconds;
  const link = await client.request<ViewLink>('POST', '/v1/view-links', body);
  return link.url;
}
