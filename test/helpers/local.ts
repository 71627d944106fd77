import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LocalServer, type LocalServerOptions, startLocalServer } from '../../infra/local/server';
import { Client, type Key } from './client';

export const ADMIN: Key = { id: 'admin', secret: 'admin-secret-0123456789abcdef' };

export const TEST_KEYS = [
  { ...ADMIN, scopes: ['admin'] },
  { id: 'reader', secret: 'reader-secret-0123456789abcdef', scopes: ['read'] },
  {
    id: 'ci-api',
    secret: 'ci-api-secret-0123456789abcdef',
    scopes: ['versions:write'],
    deployments: ['api'],
  },
  { id: 'agent', secret: 'agent-secret-0123456789abcdef', scopes: ['jobs:write'] },
  { id: 'approver', secret: 'approver-secret-0123456789abcdef', scopes: ['approvals:write'] },
  // One key per person: a decision through the API is made as the key's approver (docs/api.md section 7).
  ...['alice', 'bob', 'carol', 'dave', 'erin'].map((name) => ({
    id: `approver-${name}`,
    secret: `approver-${name}-secret-0123456789abcdef`,
    scopes: ['approvals:write'],
    approver: name,
  })),
];

export async function startTestServer(
  options: LocalServerOptions = {},
): Promise<{ server: LocalServer; admin: Client; as: (id: string) => Client }> {
  const server = await startLocalServer({
    port: 0,
    dataDir: mkdtempSync(join(tmpdir(), 'gantry-test-')),
    apiKeys: JSON.stringify(TEST_KEYS),
    inMemory: true,
    ...options,
  });
  const as = (id: string) => {
    const key = TEST_KEYS.find((k) => k.id === id);
    if (!key) throw new Error(`no test key ${id}`);
    return new Client(server.url, key);
  };
  return { server, admin: new Client(server.url, ADMIN), as };
}
