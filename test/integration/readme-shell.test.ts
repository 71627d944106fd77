import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import type { Client } from '../helpers/client';
import { ADMIN, startTestServer } from '../helpers/local';

/**
 * The README's shell client (gantry_canonical and gantry_curl), run with bash as it is written there,
 * against the local server: a tag with build metadata signs and verifies (docs/api.md section 2).
 */
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const block =
  readme
    .split('```sh')
    .find((b) => b.includes('gantry_curl() {'))
    ?.split('```')[0] ?? '';
const functions = block.slice(block.indexOf('gantry_canonical() {'), block.indexOf('# gantry_watch'));

let server: LocalServer;
let admin: Client;

beforeAll(async () => {
  ({ server, admin } = await startTestServer());
  await admin.put('/v1/deployments/api', { jobAgent: { type: 'webhook', url: 'http://127.0.0.1:9/' } });
});
afterAll(async () => {
  await server?.close();
});

// Asynchronous: the server answering curl runs in this same process.
const bash = async (script: string) =>
  (
    await promisify(execFile)('bash', ['-c', `${functions}\n${script}`], {
      env: {
        ...process.env,
        GANTRY_URL: server.url,
        GANTRY_KEY_ID: ADMIN.id,
        GANTRY_KEY_SECRET: ADMIN.secret,
      },
    })
  ).stdout;

describe("the README's shell client", () => {
  it('is found in the README', () => {
    expect(functions).toContain('gantry_canonical() {');
    expect(functions).toContain('gantry_curl() {');
  });

  it('creates and reads a version whose tag has build metadata', async () => {
    const created = JSON.parse(
      await bash(
        `gantry_curl POST /v1/deployments/api/versions '{"tag": "v1.2.3+build.7", "status": "building"}'`,
      ),
    );
    expect(created.version.tag).toBe('v1.2.3+build.7');
    for (const path of [
      '/v1/deployments/api/versions/v1.2.3+build.7',
      '/v1/deployments/api/versions/v1.2.3%2Bbuild.7',
    ]) {
      const read = JSON.parse(await bash(`gantry_curl GET '${path}'`));
      expect(read.version?.tag, path).toBe('v1.2.3+build.7');
    }
  });

  it('writes a resource whose id has : and @', async () => {
    const put = JSON.parse(
      await bash(
        `gantry_curl PUT '/v1/resources/arn:aws:ecs:eu-west-1:1:cluster@blue' '{"kind": "ecs", "name": "blue"}'`,
      ),
    );
    expect(put.id).toBe('arn:aws:ecs:eu-west-1:1:cluster@blue');
  });
});
