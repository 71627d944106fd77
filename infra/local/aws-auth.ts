import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Sha256 } from '@smithy/core/checksum';
import { HttpRequest } from '@smithy/core/protocols';
import { SignatureV4 } from '@smithy/signature-v4';

/**
 * The local runtime's Step Functions and EventBridge endpoints take only requests signed (AWS
 * Signature V4) with a secret made at each start, which only the in-process handlers' SDK clients
 * hold (docs/api.md section 9). A request is verified by signing it again with that secret.
 */
export const LOCAL_ACCESS_KEY_ID = 'local';
/** As AWS: a signature dated further than this from the server's clock has expired. */
const MAX_SKEW_MS = 5 * 60 * 1000;

export interface AwsRefusal {
  __type: 'UnrecognizedClientException' | 'InvalidSignatureException' | 'AccessDeniedException';
  message: string;
}

export interface ReceivedAwsRequest {
  method: string;
  /** The request target as received: path and query. */
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A new AWS secret access key (40 characters, as AWS's). */
export function newLocalSecret(): string {
  return randomBytes(30).toString('base64');
}

const invalid = (message: string): AwsRefusal => ({ __type: 'InvalidSignatureException', message });
const unrecognized = (message: string): AwsRefusal => ({ __type: 'UnrecognizedClientException', message });

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

/** X-Amz-Date's basic ISO 8601 form, 20240131T235959Z; undefined for anything else. */
function amzDate(value: string | undefined): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value ?? '');
  if (!m) return undefined;
  const date = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * Why a request to a local AWS endpoint is refused (403), or undefined when it is signed with the
 * secret for this region and service within 5 minutes of `now`. A browser's request (any Origin)
 * is refused whatever it carries.
 */
export async function refuseAwsRequest(
  request: ReceivedAwsRequest,
  expected: { secret: string; region: string; service: string },
  now = Date.now(),
): Promise<AwsRefusal | undefined> {
  if (request.headers.origin !== undefined)
    return { __type: 'AccessDeniedException', message: 'Requests from a browser are refused.' };
  const authorization = single(request.headers.authorization);
  if (!authorization) return unrecognized('The request is not signed.');
  const accessKeyId = /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\//.exec(authorization)?.[1];
  if (accessKeyId !== LOCAL_ACCESS_KEY_ID)
    return unrecognized('The security token included in the request is invalid.');
  const signingDate = amzDate(single(request.headers['x-amz-date']));
  if (!signingDate) return invalid('X-Amz-Date is missing or not of the form 20240131T235959Z.');
  if (Math.abs(now - signingDate.getTime()) > MAX_SKEW_MS)
    return invalid('Signature expired: X-Amz-Date is more than 5 minutes from the server time.');
  const signedNames = /SignedHeaders=([^,\s]+)/.exec(authorization)?.[1]?.split(';') ?? [];
  if (!signedNames.includes('host')) return invalid('The Host header must be signed.');

  // Only the headers the client says it signed, and the hash of the body actually received
  // (an x-amz-content-sha256 header is the client's claim, not a fact).
  const headers: Record<string, string> = {};
  for (const name of signedNames) {
    const value = single(request.headers[name]);
    if (value === undefined) return invalid(`The signed header ${name} is missing.`);
    headers[name] = value;
  }
  if (headers['x-amz-content-sha256'] !== undefined)
    headers['x-amz-content-sha256'] = createHash('sha256').update(request.body).digest('hex');
  const [path = '/', query = ''] = request.url.split(/\?(.*)/s);
  const signer = new SignatureV4({
    credentials: { accessKeyId: LOCAL_ACCESS_KEY_ID, secretAccessKey: expected.secret },
    region: expected.region,
    service: expected.service,
    sha256: Sha256,
  });
  const signed = await signer.sign(
    new HttpRequest({
      method: request.method,
      protocol: 'http:',
      hostname: 'local',
      path,
      query: Object.fromEntries(new URLSearchParams(query)),
      headers,
      body: request.body,
    }),
    { signingDate, signableHeaders: new Set(signedNames) },
  );
  if (!sameText(String(signed.headers.authorization), authorization))
    return invalid('The request signature we calculated does not match the signature you provided.');
  return undefined;
}
