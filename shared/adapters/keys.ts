import { type ApiKey, ApiKeys } from '../core/schemas/common';
import { ENV } from './runtime';
import { secretsById } from './secrets';

/**
 * The API keys of docs/api.md section 2: a port with two adapters, GANTRY_API_KEYS locally and a Secrets
 * Manager secret holding the same JSON in AWS (cached a minute, so rotation needs no redeploy).
 * Only the HTTP functions load this module (and zod with it).
 */
export interface KeySource {
  find(keyId: string): Promise<ApiKey | undefined>;
}

export function parseApiKeys(json: string): ApiKey[] {
  return ApiKeys.parse(JSON.parse(json));
}

/** Keys from GANTRY_API_KEYS (local) or from the Secrets Manager secret holding the same JSON (AWS). */
export class ApiKeyStore implements KeySource {
  private keys: { list: ApiKey[]; until: number } | undefined;
  constructor(
    private readonly load: () => Promise<string>,
    private readonly ttlMs = 60_000,
  ) {}
  async find(keyId: string): Promise<ApiKey | undefined> {
    if (!this.keys || this.keys.until <= Date.now()) {
      this.keys = { list: parseApiKeys(await this.load()), until: Date.now() + this.ttlMs };
    }
    return this.keys.list.find((key) => key.id === keyId);
  }
}

let keySource: KeySource | undefined;
export function apiKeys(): KeySource {
  if (!keySource) {
    const secretId = process.env[ENV.apiKeysSecretId];
    keySource = secretId
      ? new ApiKeyStore(() => secretsById().get(secretId))
      : new ApiKeyStore(async () => process.env[ENV.apiKeys] ?? '[]', Number.POSITIVE_INFINITY);
  }
  return keySource;
}

export function resetKeySource(): void {
  keySource = undefined;
}
