import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  MAX_RESPONSE_BYTES,
  OutboundError,
  outbound,
  parseOutboundAllow,
  refusal,
} from '../../shared/adapters/outbound';

/** Issue 17: the one outbound client. The address policy as a table, then the client against real loopback servers. */

describe('address policy', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['::1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['169.254.169.254', 'link-local'],
    ['169.254.170.2', 'link-local'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['fe80::1', 'link-local'],
    ['fd00:ec2::254', 'link-local'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['fc00::1', 'private'],
    ['fd12:3456::1', 'private'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:a00:1', 'private'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['::ffff:0.0.0.0', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['::7f00:1', 'reserved'],
  ])('refuses %s by default as %s', (address, category) => {
    const article = category === 'unspecified' ? 'an' : 'a';
    expect(refusal(address, parseOutboundAllow(''))).toBe(
      `${article} ${category} address (GANTRY_OUTBOUND_ALLOW)`,
    );
  });

  it.each(['8.8.8.8', '172.32.0.1', '100.128.0.1', '169.255.0.1', '2606:4700::1111', '::ffff:8.8.8.8'])(
    'allows the public address %s',
    (address) => {
      expect(refusal(address, parseOutboundAllow(''))).toBeUndefined();
    },
  );

  it.each([
    ['loopback', '127.0.0.1', true],
    ['loopback', '::1', true],
    ['loopback', '::ffff:127.0.0.1', true],
    ['loopback', '169.254.169.254', false],
    ['loopback', '10.0.0.1', false],
    ['private', '10.0.0.1', true],
    ['private', 'fd12::1', true],
    ['private', 'fd00:ec2::254', false],
    ['private', '127.0.0.1', false],
    ['link-local', '169.254.169.254', true],
    ['link-local', 'fd00:ec2::254', true],
    ['10.20.0.0/16', '10.20.1.1', true],
    ['10.20.0.0/16', '::ffff:10.20.0.5', true],
    ['10.20.0.0/16', '10.21.0.1', false],
    ['127.0.0.2', '127.0.0.2', true],
    ['127.0.0.2', '127.0.0.1', false],
    ['::ffff:127.0.0.0/104', '127.0.0.9', true],
    ['fd00:ec2::254/128', 'fd00:ec2::254', true],
    [' loopback , 10.0.0.0/8 ,', '10.9.9.9', true],
    [' loopback , 10.0.0.0/8 ,', '127.0.0.1', true],
    ['', '127.0.0.1', false],
  ])('GANTRY_OUTBOUND_ALLOW=%j: %s allowed is %s', (allow, address, allowed) => {
    expect(refusal(address, parseOutboundAllow(allow)) === undefined).toBe(allowed);
  });

  it.each(['loopbak', '10.0.0.0/33', '10.0.0/8', 'example.com', '10.0.0.0/8/1', '10.0.0.0/x', 'fe80::/129'])(
    'refuses the setting %j, naming it',
    (entry) => {
      expect(() => parseOutboundAllow(`loopback,${entry}`)).toThrow(
        `GANTRY_OUTBOUND_ALLOW: "${entry}" is neither a CIDR nor one of loopback, private, link-local`,
      );
    },
  );
});

// ---- The client against real servers ---------------------------------------------------------

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;
interface Served {
  origin: string;
  port: number;
  requests: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[];
  /** Bytes the handler's writes handed to the socket, and whether the client hung up first. */
  written: number;
  hungUp: boolean;
}
const servers: ReturnType<typeof createServer>[] = [];

async function serve(handler: Handler): Promise<Served> {
  const served: Served = { origin: '', port: 0, requests: [], written: 0, hungUp: false };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      served.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      res.on('close', () => {
        if (!res.writableFinished) served.hungUp = true;
      });
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  served.port = (server.address() as AddressInfo).port;
  served.origin = `http://127.0.0.1:${served.port}`;
  return served;
}

/** Writes `total` bytes in 64 KiB chunks, each after the last drained, counting what was handed over. */
async function stream(res: ServerResponse, served: Served, total: number): Promise<void> {
  const chunk = Buffer.alloc(64 * 1024, 'x');
  res.writeHead(200, { 'content-type': 'text/plain' });
  while (served.written < total && !res.destroyed) {
    served.written += chunk.length;
    if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve).once('close', resolve));
  }
  res.end();
}

async function failure(promise: Promise<unknown>): Promise<OutboundError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OutboundError);
  return error as OutboundError;
}

const saved = process.env.GANTRY_OUTBOUND_ALLOW;
beforeAll(() => {
  process.env.GANTRY_OUTBOUND_ALLOW = 'loopback';
});
afterEach(() => {
  process.env.GANTRY_OUTBOUND_ALLOW = 'loopback';
});
afterAll(() => {
  process.env.GANTRY_OUTBOUND_ALLOW = saved;
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
});

describe('outbound', () => {
  it('sends method, headers and body (with a length) and answers status and body', async () => {
    const server = await serve((_req, res) =>
      res
        .writeHead(201, [
          ['Set-Cookie', 'a=1'],
          ['Set-Cookie', 'b=2'],
          ['X-Answer', 'v'],
        ])
        .end('{"ok":true}'),
    );

    const answer = await outbound({
      url: `${server.origin}/hook?x=1`,
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Custom': 'v' },
      body: '{"a":"ü"}',
    });

    expect(answer).toMatchObject({ status: 201, body: '{"ok":true}' });
    expect(answer.headers).toMatchObject({ 'x-answer': 'v', 'set-cookie': 'a=1, b=2' });
    const [request] = server.requests;
    expect(request).toMatchObject({ method: 'POST', url: '/hook?x=1', body: '{"a":"ü"}' });
    expect(request?.headers).toMatchObject({
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength('{"a":"ü"}')),
      'x-custom': 'v',
      'user-agent': 'gantry',
    });
    expect(request?.headers['transfer-encoding']).toBeUndefined();
  });

  it("lets a caller's header replace a default, whatever its case", async () => {
    const server = await serve((_req, res) => res.end());
    await outbound({ url: server.origin, headers: { 'User-Agent': 'custom', Accept: 'application/json' } });
    expect(server.requests[0]?.headers).toMatchObject({ 'user-agent': 'custom', accept: 'application/json' });
  });

  it('reaches a name that resolves to an allowed address', async () => {
    const server = await serve((_req, res) => res.end('hi'));
    await expect(outbound({ url: `http://localhost:${server.port}/` })).resolves.toMatchObject({
      status: 200,
      body: 'hi',
    });
  });

  it.each([
    [
      'an IP literal',
      (port: number) => `http://127.0.0.1:${port}/`,
      'refused: 127.0.0.1 is a loopback address',
    ],
    [
      'a name resolving to loopback',
      (port: number) => `http://localhost:${port}/`,
      'refused: localhost resolves to 127.0.0.1, a loopback address',
    ],
    [
      'an IPv4-mapped IPv6 literal',
      (port: number) => `http://[::ffff:127.0.0.1]:${port}/`,
      'refused: ::ffff:7f00:1 is a loopback address',
    ],
    [
      'an IPv4 literal in another notation',
      (port: number) => `http://0x7f.1:${port}/`,
      'refused: 127.0.0.1 is a loopback address',
    ],
  ])('refuses %s under the AWS policy, contacting nothing', async (_what, url, message) => {
    const server = await serve((_req, res) => res.end('reached'));
    process.env.GANTRY_OUTBOUND_ALLOW = '';

    const error = await failure(outbound({ url: url(server.port) }));

    expect(error.reason).toBe('refused');
    expect(error.message).toBe(`${message} (GANTRY_OUTBOUND_ALLOW)`);
    expect(server.requests).toHaveLength(0);
  });

  it('refuses the metadata service and the Lambda Runtime API even where loopback is allowed elsewhere', async () => {
    process.env.GANTRY_OUTBOUND_ALLOW = 'private';
    const metadata = await failure(
      outbound({ url: 'http://169.254.169.254/latest/meta-data/', timeoutMs: 200 }),
    );
    const runtimeApi = await failure(
      outbound({ url: 'http://127.0.0.1:9001/2018-06-01/runtime/invocation/next' }),
    );
    expect(metadata.message).toBe('refused: 169.254.169.254 is a link-local address (GANTRY_OUTBOUND_ALLOW)');
    expect(runtimeApi.message).toBe('refused: 127.0.0.1 is a loopback address (GANTRY_OUTBOUND_ALLOW)');
  });

  it.each(['file:///etc/passwd', 'ftp://example.com/x', 'not a url'])('refuses %s', async (url) => {
    const error = await failure(outbound({ url }));
    expect(error.reason).toBe('refused');
    expect(error.message).toMatch(/^refused: (only http and https URLs|not a valid URL)/);
  });

  it("never names the URL's credentials or query", async () => {
    const url = 'http://user:pa55word@127.0.0.1:1/hook?token=SECRET-TOKEN';
    const refused = await (async () => {
      process.env.GANTRY_OUTBOUND_ALLOW = '';
      return failure(outbound({ url }));
    })();
    process.env.GANTRY_OUTBOUND_ALLOW = 'loopback';
    const unreachable = await failure(outbound({ url }));

    expect(unreachable.message).toBe('connection failed (ECONNREFUSED)');
    for (const error of [refused, unreachable]) {
      expect(`${error.message} ${error.stack}`).not.toMatch(/pa55word|SECRET-TOKEN|user:/);
    }
  });

  it('answers a redirect as it is, without following it', async () => {
    const elsewhere = await serve((_req, res) => res.end('followed'));
    const server = await serve((_req, res) =>
      res.writeHead(302, { location: `${elsewhere.origin}/x` }).end(),
    );

    const answer = await outbound({ url: server.origin, method: 'POST', body: '{}' });

    expect(answer.status).toBe(302);
    expect(elsewhere.requests).toHaveLength(0);
  });

  it('stops reading past the size cap and fails, never buffering the rest', async () => {
    let server: Served | undefined;
    server = await serve((_req, res) => void stream(res, server as Served, 64 * 1024 * 1024));

    const error = await failure(outbound({ url: server.origin, maxBytes: 100_000 }));

    expect(error.reason).toBe('too_large');
    expect(error.message).toBe('the answer is larger than 100000 bytes');
    await expect.poll(() => server?.hungUp).toBe(true);
    // Socket buffers hold a few MiB at most; a client reading on would have taken all 64.
    expect(server.written).toBeLessThan(32 * 1024 * 1024);
  });

  it('holds every caller to 1 MiB, and to less when asked', async () => {
    const exact = await serve((_req, res) => res.end(Buffer.alloc(MAX_RESPONSE_BYTES, 'y')));
    const over = await serve((_req, res) => res.end(Buffer.alloc(MAX_RESPONSE_BYTES + 1, 'y')));
    const declared = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': String(5 * MAX_RESPONSE_BYTES) });
      res.write('y'); // then nothing: the declared length alone fails the request
    });

    expect((await outbound({ url: exact.origin })).body).toHaveLength(MAX_RESPONSE_BYTES);
    expect((await failure(outbound({ url: over.origin, maxBytes: 10 * MAX_RESPONSE_BYTES }))).reason).toBe(
      'too_large',
    );
    expect((await failure(outbound({ url: exact.origin, maxBytes: 1000 }))).reason).toBe('too_large');
    const started = Date.now();
    expect((await failure(outbound({ url: declared.origin, timeoutMs: 5_000 }))).reason).toBe('too_large');
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('times out a server that stalls before answering or in the middle of the body', async () => {
    const silent = await serve(() => {});
    const stalling = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('half');
    });

    for (const server of [silent, stalling]) {
      const started = Date.now();
      const error = await failure(outbound({ url: server.origin, timeoutMs: 200 }));
      expect(error).toMatchObject({ reason: 'timeout', message: 'timed out after 200 ms' });
      expect(Date.now() - started).toBeLessThan(1_000);
      await expect.poll(() => server.hungUp || server.requests.length === 0).toBe(true);
    }
  });

  it('stops when its signal aborts', async () => {
    const silent = await serve(() => {});
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const error = await failure(outbound({ url: silent.origin, signal: controller.signal }));
    expect(error.reason).toBe('aborted');
  });

  it('fails on a connection cut in the middle of the body', async () => {
    const cut = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('half', () => res.destroy());
    });
    const error = await failure(outbound({ url: cut.origin }));
    expect(error.reason).toBe('connection');
  });
});
