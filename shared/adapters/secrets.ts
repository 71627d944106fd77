import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ENV } from './runtime';

/**
 * Named secrets (agent secrets, `secretRef` variables, API keys): a port with two adapters.
 * Locally they come from environment variables, in AWS from Secrets Manager (cached briefly so a
 * rotation takes effect without a redeploy).
 */
export interface SecretSource {
  get(name: string): Promise<string>;
}

export class SecretNotFound extends Error {
  constructor(name: string) {
    super(`Secret "${name}" is not configured.`);
    this.name = 'SecretNotFound';
  }
}

export class EnvSecretSource implements SecretSource {
  constructor(private readonly json = process.env[ENV.secrets] ?? '{}') {}
  async get(name: string): Promise<string> {
    const value = (JSON.parse(this.json) as Record<string, unknown>)[name];
    if (typeof value !== 'string') throw new SecretNotFound(name);
    return value;
  }
}

export class SecretsManagerSource implements SecretSource {
  private readonly cache = new Map<string, { value: string; until: number }>();
  constructor(
    private readonly prefix = process.env[ENV.secretPrefix] ?? '',
    private readonly client = new SecretsManagerClient({}),
    private readonly ttlMs = 60_000,
  ) {}
  async get(name: string): Promise<string> {
    const hit = this.cache.get(name);
    if (hit && hit.until > Date.now()) return hit.value;
    try {
      const out = await this.client.send(new GetSecretValueCommand({ SecretId: `${this.prefix}${name}` }));
      if (out.SecretString === undefined) throw new SecretNotFound(name);
      this.cache.set(name, { value: out.SecretString, until: Date.now() + this.ttlMs });
      return out.SecretString;
    } catch (error) {
      if ((error as Error).name === 'ResourceNotFoundException') throw new SecretNotFound(name);
      throw error;
    }
  }
}

let secretSource: SecretSource | undefined;
export function secrets(): SecretSource {
  secretSource ??=
    process.env[ENV.secrets] !== undefined || !process.env.AWS_LAMBDA_FUNCTION_NAME
      ? new EnvSecretSource()
      : new SecretsManagerSource();
  return secretSource;
}

let byId: SecretSource | undefined;
/** Secrets Manager by full secret id (the stack's own secrets: API keys, Slack, sign-in), cached. */
export function secretsById(): SecretSource {
  byId ??= new SecretsManagerSource('');
  return byId;
}

export function resetSecretSources(): void {
  secretSource = undefined;
  byId = undefined;
}

/**
 * A setting given as an environment variable locally and as a secret in AWS (the variable
 * `secretVariable` holds its id). Read through `source`'s cache, the "not configured" placeholder
 * included, so a secret filled in after deploy takes effect within a minute, with no redeploy. A
 * missing secret, or one still holding the stack's `REPLACE ...` placeholder, is unset.
 */
export async function envOrSecret(
  variable: string,
  secretVariable: string,
  source: () => SecretSource,
): Promise<string | undefined> {
  if (process.env[variable]) return process.env[variable];
  const secretId = process.env[secretVariable];
  if (!secretId) return undefined;
  const value = await source()
    .get(secretId)
    .then(
      (found) => found.trim(),
      (error: unknown) => {
        if (error instanceof SecretNotFound) return undefined;
        throw error;
      },
    );
  return value && !value.startsWith('REPLACE') ? value : undefined;
}
