import { describe, expect, it } from 'vitest';
import { bodyLimit, MAX_BODY_BYTES } from '../../../functions/http/middlewares/body-limit';
import { requestFor, routeOf } from './request';

const route = routeOf({ method: 'POST' });
const withBody = (rawBody: string) => requestFor(route, { api: { rawBody } });

describe('the body-limit middleware', () => {
  it('lets a body of exactly 1 MiB through', () => {
    expect(() => bodyLimit.before?.(withBody('x'.repeat(MAX_BODY_BYTES)))).not.toThrow();
  });

  it('answers a body over 1 MiB with 413 payload_too_large', () => {
    expect(() => bodyLimit.before?.(withBody('x'.repeat(MAX_BODY_BYTES + 1)))).toThrow(
      expect.objectContaining({ code: 'payload_too_large' }),
    );
  });

  it('counts bytes, not characters', () => {
    // Half a MiB of two-byte characters and one more byte.
    const body = `${'é'.repeat(MAX_BODY_BYTES / 2)}x`;

    expect(body.length).toBeLessThan(MAX_BODY_BYTES);
    expect(() => bodyLimit.before?.(withBody(body))).toThrow(
      expect.objectContaining({ code: 'payload_too_large' }),
    );
  });
});
