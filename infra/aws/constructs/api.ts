import { ArnFormat, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  HttpApi,
  HttpMethod,
  HttpRoute,
  HttpRouteKey,
  HttpStage,
  LogGroupLogDestination,
  PayloadFormatVersion,
  type ThrottleSettings,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { HttpFunctionId, RouteSpec } from '../../../functions/http/routes';

export interface ApiProps {
  readonly logRetention: RetentionDays;
  /** Stage-wide limits; a team raises them here (the account's own limit still applies). */
  readonly throttle?: ThrottleSettings;
}

const DEFAULT_THROTTLE: ThrottleSettings = { rateLimit: 50, burstLimit: 100 };

/**
 * The HTTP API on its `$default` stage, so a path is the same here as on the local server
 * (docs/api.md section 2: the signature covers the path).
 */
export class Api extends Construct {
  public readonly httpApi: HttpApi;
  public readonly stage: HttpStage;
  public readonly accessLogs: LogGroup;
  /** `https://<id>.execute-api.<region>.amazonaws.com`, no trailing slash. */
  public readonly url: string;
  private readonly integrations = new Map<HttpFunctionId, HttpLambdaIntegration>();

  constructor(scope: Construct, id: string, props: ApiProps) {
    super(scope, id);
    this.httpApi = new HttpApi(this, 'HttpApi', {
      description: 'Gantry API (docs/api.md)',
      createDefaultStage: false,
    });
    this.accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stage = new HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: props.throttle ?? DEFAULT_THROTTLE,
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogs),
        // The path without its query string: approval links carry their token in the query.
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            time: '$context.requestTime',
            ip: '$context.identity.sourceIp',
            routeKey: '$context.routeKey',
            path: '$context.path',
            status: '$context.status',
            responseLength: '$context.responseLength',
            latencyMs: '$context.responseLatency',
            integrationLatencyMs: '$context.integrationLatency',
            integrationError: '$context.integrationErrorMessage',
          }),
        ),
      },
    });
    this.url = this.httpApi.apiEndpoint;
    Validations.of(this.httpApi).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        'Every /v1 request is HMAC-signed over its raw body, which API Gateway authorizers never see, so ' +
        'the signature is verified in each handler (docs/api.md section 2, the same middleware as locally); ' +
        'job callbacks carry a job token, approval pages and Slack their own credentials, and ' +
        '/healthz and /openapi.json are public by contract.',
    });
  }

  /**
   * One route per entry, each to the integration of the function that serves it (payload 2.0), and
   * `$default` to `unknownRouteFn`, so an unlisted method or path gets the contract's 404 body.
   */
  public addRoutes(
    routes: readonly RouteSpec[],
    functionOf: (id: HttpFunctionId) => IFunction,
    unknownRouteFn: HttpFunctionId,
  ): void {
    const integrationOf = (fn: HttpFunctionId) => {
      let integration = this.integrations.get(fn);
      if (!integration) {
        integration = new HttpLambdaIntegration(fn, functionOf(fn), {
          payloadFormatVersion: PayloadFormatVersion.VERSION_2_0,
          // One invoke permission per function for this API (not one per route): a function serving
          // 20-30 routes would otherwise outgrow Lambda's 20 KiB resource-policy limit.
          scopePermissionToRoute: false,
        });
        this.integrations.set(fn, integration);
      }
      return integration;
    };
    for (const route of routes) {
      this.httpApi.addRoutes({
        path: route.path,
        methods: [HttpMethod[route.method]],
        integration: integrationOf(route.fn),
      });
    }
    new HttpRoute(this.httpApi, 'UnknownRoute', {
      httpApi: this.httpApi,
      routeKey: HttpRouteKey.DEFAULT,
      integration: integrationOf(unknownRouteFn),
    });
    // The catch-all route invokes with `<api>/<stage>/$default`, two segments that the integration's
    // `<api>/*/*/*` (stage, method, path) cannot match.
    functionOf(unknownRouteFn).addPermission('DefaultRouteInvoke', {
      principal: new ServicePrincipal('apigateway.amazonaws.com'),
      sourceArn: Stack.of(this).formatArn({
        service: 'execute-api',
        resource: this.httpApi.apiId,
        resourceName: '*/$default',
        arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
      }),
    });
  }
}
