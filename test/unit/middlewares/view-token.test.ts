import { describe, expect, it } from 'vitest';
import { viewToken } from '../../../functions/http/middlewares/view-token';
import { mintViewToken } from '../../../functions/http/presentation/view-token';
import type { KeySource } from '../../../shared/adapters/keys';
import type { ApiKey } from '../../../shared/core/schemas/common';
import { apiOfRequest, requestFor, routeOf } from './request';

const READER: ApiKey = { id: 'reader', secret: 'reader-secret-0123456789', scopes: ['read'] };
const keys = (): KeySource => ({ find: async (id) => (id === READER.id ? READER : undefined) });
const middleware = viewToken({ keys });
const route = routeOf({ path: '/ui/api/summary', fn: 'api-ui', auth: { type: 'view' } });
const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;

const reading = (authorization: string | undefined, query: Record<string, unknown> = { deployment: 'api' }) =>
  requestFor(route, { api: { headers: { authorization }, query } });

describe('the view-token middleware', () => {
  it('accepts a view token and hands its grant to the implementation', async () => {
    const request = reading(`View ${mintViewToken(READER, inAnHour(), 'api')}`);

    await middleware.before?.(request);

    expect(apiOfRequest(request).grant).toMatchObject({ keyId: 'reader', deployment: 'api' });
  });

  it.each([
    ['no token', undefined],
    ['a signature header instead', 'Bearer abc'],
    ['a forged token', `View ${mintViewToken({ ...READER, secret: 'not-the-secret-000000' }, inAnHour())}`],
    ['an expired token', `View ${mintViewToken(READER, Math.floor(Date.now() / 1000) - 1)}`],
  ])('answers %s with 401 unauthenticated', async (_name, authorization) => {
    const request = reading(authorization);

    await expect(middleware.before?.(request)).rejects.toMatchObject({
      code: 'unauthenticated',
    });
    expect(apiOfRequest(request).grant).toBeUndefined();
  });

  it('answers a token for one deployment, asked about another, with 403 forbidden', async () => {
    const request = reading(`View ${mintViewToken(READER, inAnHour(), 'web')}`);

    await expect(middleware.before?.(request)).rejects.toMatchObject({
      code: 'forbidden',
      message: 'This view link may not read deployment "api".',
    });
  });

  it('lets a token for every deployment read any, and a read that names none', async () => {
    const any = reading(`View ${mintViewToken(READER, inAnHour())}`);
    const none = reading(`View ${mintViewToken(READER, inAnHour(), 'web')}`, {});

    await middleware.before?.(any);
    await middleware.before?.(none);

    expect(apiOfRequest(any).grant?.deployment).toBeNull();
    expect(apiOfRequest(none).grant?.deployment).toBe('web');
  });

  it('leaves routes of other schemes alone', async () => {
    const request = requestFor(routeOf());

    await middleware.before?.(request);

    expect(apiOfRequest(request).grant).toBeUndefined();
  });
});
