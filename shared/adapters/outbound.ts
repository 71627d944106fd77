import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { type ClientRequest, request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { ENV } from './runtime';

/**
 * The one HTTP client of the server (agents, verification, Slack, GitHub mirroring; AWS SDK calls are
 * not made here). Every request:
 * - goes only to http: and https: URLs and never follows a redirect (a 3xx is an answer);
 * - is refused when the address it would connect to is loopback, link-local (the EC2/Lambda metadata
 *   service, the Lambda Runtime API on 127.0.0.1:9001), private, unspecified, multicast or reserved,
 *   IPv4-mapped IPv6 forms included, unless GANTRY_OUTBOUND_ALLOW allows it. A name is checked on the
 *   address it resolved to, at connect time, so a DNS answer cannot steer round the check;
 * - has one timeout that also bounds reading the body, and a size cap on the body.
 * Errors name neither the URL's credentials nor its query: either can carry a token.
 */

export interface OutboundRequest {
  url: string;
  method?: 'GET' | 'POST' | 'PATCH' | 'PUT';
  headers?: Record<string, string>;
  body?: string;
  /** For the whole attempt, connect to last byte; default 10 s. */
  timeoutMs?: number;
  /** The most the body may hold; default and at most MAX_RESPONSE_BYTES. */
  maxBytes?: number;
  signal?: AbortSignal;
}

export interface OutboundResponse {
  status: number;
  body: string;
  /** Header names in lower case; repeated headers joined with ', '. */
  headers?: Record<string, string>;
}

export type Outbound = (request: OutboundRequest) => Promise<OutboundResponse>;

export const MAX_RESPONSE_BYTES = 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 10_000;

export type OutboundFailure = 'refused' | 'timeout' | 'too_large' | 'connection' | 'aborted';

/** `reason` tells callers whether another attempt can help: only `timeout` and `connection` can. */
export class OutboundError extends Error {
  override readonly name = 'OutboundError';
  constructor(
    readonly reason: OutboundFailure,
    message: string,
    /** The network error code (ECONNREFUSED) of a `connection` failure. */
    readonly code?: string,
  ) {
    super(message);
  }
}

// ---- Address policy ---------------------------------------------------------------------------

/** What GANTRY_OUTBOUND_ALLOW may name besides CIDRs. */
const KEYWORDS = ['loopback', 'private', 'link-local'] as const;
type Keyword = (typeof KEYWORDS)[number];
type Category = Keyword | 'unspecified' | 'multicast' | 'reserved';

/** Checked in this order; the first range an address falls in names it (fd00:ec2::254 is link-local, not private). */
const REFUSED: [Category, string[]][] = [
  ['unspecified', ['0.0.0.0/8', '::/128']],
  ['loopback', ['127.0.0.0/8', '::1/128']],
  ['link-local', ['169.254.0.0/16', 'fe80::/10', 'fd00:ec2::254/128']],
  ['private', ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', 'fc00::/7']],
  ['multicast', ['224.0.0.0/4', 'ff00::/8']],
  // 240/4 holds the broadcast address; ::/96 is the deprecated IPv4-compatible form.
  ['reserved', ['240.0.0.0/4', '::/96']],
];

const familyOf = (address: string) => (isIP(address) === 6 ? 'ipv6' : 'ipv4');

/** BlockList matches IPv4-mapped IPv6 addresses (::ffff:127.0.0.1) against IPv4 ranges and back. */
function addCidr(list: BlockList, cidr: string): void {
  const [address = '', prefix, extra] = cidr.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined || (prefix !== undefined && !/^\d{1,3}$/.test(prefix)))
    throw new Error(`"${cidr}" is not a CIDR`);
  const bits = prefix === undefined ? (family === 4 ? 32 : 128) : Number(prefix);
  try {
    list.addSubnet(address, bits, familyOf(address));
  } catch {
    throw new Error(`"${cidr}" is not a CIDR`);
  }
}

const RANGES: [Category, BlockList][] = REFUSED.map(([category, cidrs]) => {
  const list = new BlockList();
  for (const cidr of cidrs) addCidr(list, cidr);
  return [category, list];
});

export interface OutboundPolicy {
  keywords: ReadonlySet<Keyword>;
  cidrs: BlockList;
}

/** Parses GANTRY_OUTBOUND_ALLOW: comma-separated CIDRs (or single addresses) and the keywords. */
export function parseOutboundAllow(value: string): OutboundPolicy {
  const keywords = new Set<Keyword>();
  const cidrs = new BlockList();
  for (const entry of value.split(',').map((each) => each.trim())) {
    if (entry === '') continue;
    if ((KEYWORDS as readonly string[]).includes(entry)) {
      keywords.add(entry as Keyword);
      continue;
    }
    try {
      addCidr(cidrs, entry);
    } catch {
      throw new Error(
        `${ENV.outboundAllow}: "${entry.slice(0, 64)}" is neither a CIDR nor one of ${KEYWORDS.join(', ')}`,
      );
    }
  }
  return { keywords, cidrs };
}

let parsed: { value: string; policy: OutboundPolicy } | undefined;
/** The policy in force: read from the environment on each request (the local runtime sets it at start). */
function currentPolicy(): OutboundPolicy {
  const value = process.env[ENV.outboundAllow] ?? '';
  if (parsed?.value !== value) parsed = { value, policy: parseOutboundAllow(value) };
  return parsed.policy;
}

/** Why `address` may not be contacted ("a loopback address (GANTRY_OUTBOUND_ALLOW)"), or undefined when it may. */
export function refusal(address: string, policy: OutboundPolicy): string | undefined {
  const family = familyOf(address);
  if (policy.cidrs.check(address, family)) return undefined;
  const category = RANGES.find(([, list]) => list.check(address, family))?.[0];
  if (category === undefined || policy.keywords.has(category as Keyword)) return undefined;
  return `${category === 'unspecified' ? 'an' : 'a'} ${category} address (${ENV.outboundAllow})`;
}

/** dns.lookup, answering only the addresses the policy allows; none allowed is a refusal. */
function guardedLookup(policy: OutboundPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 0);
      const allowed = addresses.filter((a) => refusal(a.address, policy) === undefined);
      const first = allowed[0];
      const address = addresses[0]?.address;
      if (!first && address) {
        const why = `refused: ${hostname} resolves to ${address}, ${refusal(address, policy)}`;
        return callback(new OutboundError('refused', why), '', 0);
      }
      if (!first) {
        return callback(new OutboundError('connection', 'connection failed (ENOTFOUND)', 'ENOTFOUND'), '', 0);
      }
      if (options.all) return callback(null, allowed);
      return callback(null, first.address, first.family);
    });
  };
}

// ---- The client ------------------------------------------------------------------------------

/** The request as a URL and an IP literal's refusal, checked before any socket is opened. */
function target(url: string, policy: OutboundPolicy): URL {
  if (!URL.canParse(url)) throw new OutboundError('refused', 'refused: not a valid URL');
  const parsedUrl = new URL(url);
  if (parsedUrl.protocol !== 'http:' && parsedUrl.protocol !== 'https:')
    throw new OutboundError('refused', `refused: only http and https URLs (not ${parsedUrl.protocol})`);
  const literal = parsedUrl.hostname.replace(/^\[(.*)\]$/, '$1');
  const why = isIP(literal) ? refusal(literal, policy) : undefined;
  if (why) throw new OutboundError('refused', `refused: ${literal} is ${why}`);
  return parsedUrl;
}

export const outbound: Outbound = async (request) => {
  const policy = currentPolicy();
  const url = target(request.url, policy);
  const timeoutMs = request.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxBytes = Math.min(request.maxBytes ?? MAX_RESPONSE_BYTES, MAX_RESPONSE_BYTES);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;

  return new Promise<OutboundResponse>((resolve, reject) => {
    let req: ClientRequest | undefined;
    let settled = false;
    const finish = (error: Error | undefined, response?: OutboundResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.signal?.removeEventListener('abort', onAbort);
      if (error) {
        req?.destroy();
        reject(error);
      } else resolve(response as OutboundResponse);
    };
    const timer = setTimeout(
      () => finish(new OutboundError('timeout', `timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onAbort = () => finish(new OutboundError('aborted', 'aborted'));
    if (request.signal?.aborted) return onAbort();
    request.signal?.addEventListener('abort', onAbort);

    const onResponse = (res: IncomingMessage) => {
      const declared = Number(res.headers['content-length']);
      if (declared > maxBytes) return finish(tooLarge(maxBytes));
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        // Reading stops here: the socket is destroyed, so the rest is never buffered.
        if (size > maxBytes) finish(tooLarge(maxBytes));
        else chunks.push(chunk);
      });
      res.on('end', () =>
        finish(undefined, {
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString('utf8'),
          headers: joinedHeaders(res),
        }),
      );
      res.on('error', (error) => finish(connectionError(error)));
      // After 'end' this changes nothing; before it, the answer was cut short.
      res.on('close', () => finish(new OutboundError('connection', 'connection failed (answer cut short)')));
    };
    try {
      req = send(
        url,
        {
          method: request.method ?? 'GET',
          // A caller's own header wins (node sets headers case-insensitively, in this order).
          headers: { 'user-agent': 'gantry', accept: '*/*', ...request.headers },
          lookup: guardedLookup(policy),
          // One connection per request: each is checked on its own lookup, and none outlives it.
          agent: false,
        },
        onResponse,
      );
    } catch (error) {
      // Header names or values node refuses (a newline in a value); the message names the header only.
      return finish(new OutboundError('refused', `refused: ${(error as Error).message.split('\n')[0]}`));
    }
    req.on('error', (error) => finish(connectionError(error)));
    req.end(request.body);
  });
};

const joinedHeaders = (res: IncomingMessage): Record<string, string> =>
  Object.fromEntries(
    Object.entries(res.headers).flatMap(([name, value]) =>
      value === undefined ? [] : [[name, Array.isArray(value) ? value.join(', ') : value]],
    ),
  );

const tooLarge = (maxBytes: number) =>
  new OutboundError('too_large', `the answer is larger than ${maxBytes} bytes`);

// Only the code: a network error's own text may quote the host or the URL.
function connectionError(error: Error): OutboundError {
  if (error instanceof OutboundError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  return new OutboundError('connection', code ? `connection failed (${code})` : 'connection failed', code);
}
