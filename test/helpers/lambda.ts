import { type Loopback, serveLoopback } from './loopback';

/**
 * AWS Lambda's Invoke API on loopback (REST-JSON: POST /2015-03-31/functions/{name}/invocations),
 * for the real @aws-sdk/client-lambda through AWS_ENDPOINT_URL_LAMBDA. An `Event` invocation is
 * answered 202 at once and runs the function afterwards, as Lambda's async queue does.
 */
export interface Invocation {
  functionName: string;
  qualifier: string | null;
  invocationType: string;
  payload: unknown;
}

export type LambdaFunction = (event: unknown) => Promise<void> | void;

export class FakeLambda {
  readonly invocations: Invocation[] = [];
  readonly functions = new Map<string, LambdaFunction>();
  /** Answer this many invocations with 429 TooManyRequestsException first (the SDK retries them). */
  throttle = 0;
  private server?: Loopback;
  url = '';

  async start(): Promise<this> {
    this.server = await serveLoopback((req, res, body) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(url.pathname);
      const error = (status: number, type: string, message: string) =>
        res
          .writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': type })
          .end(JSON.stringify({ Type: 'User', message }));
      if (req.method !== 'POST' || !match)
        return error(404, 'UnknownOperationException', 'Unknown operation');
      if (this.throttle > 0) {
        this.throttle--;
        return error(429, 'TooManyRequestsException', 'Rate exceeded');
      }
      const functionName = decodeURIComponent(match[1] as string);
      const name = functionName.startsWith('arn:') ? (functionName.split(':')[6] ?? '') : functionName;
      const fn = this.functions.get(name);
      if (!fn) return error(404, 'ResourceNotFoundException', `Function not found: ${functionName}`);
      const invocation: Invocation = {
        functionName,
        qualifier: url.searchParams.get('Qualifier'),
        invocationType: String(req.headers['x-amz-invocation-type'] ?? 'RequestResponse'),
        payload: JSON.parse(body) as unknown,
      };
      this.invocations.push(invocation);
      res.writeHead(202).end();
      setTimeout(() => void fn(invocation.payload), 5);
    });
    this.url = this.server.origin;
    return this;
  }

  async stop(): Promise<void> {
    await this.server?.close();
  }
}
