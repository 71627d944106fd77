import type { Command } from 'commander';
import { GantryClient, usageError } from './client';
import type { Out } from './render';

/** What every command gets: a configured client, the output format and the streams. */
export interface Context {
  client: GantryClient;
  json: boolean;
  out: Out;
  err: Out;
  /** How often `--wait` and `events --follow` poll (GANTRY_POLL_MS, default 2 s). */
  pollMs: number;
}

interface GlobalOptions {
  url?: string;
  keyId?: string;
  keySecret?: string;
  output?: 'table' | 'json';
}

export function contextOf(command: Command, auth: { bearer?: string } = {}): Context {
  // Commander fills these from the flags or else from GANTRY_URL, GANTRY_KEY_ID, GANTRY_KEY_SECRET.
  const { url, keyId: id, keySecret: secret, output } = command.optsWithGlobals<GlobalOptions>();
  if (!url) throw usageError('no Gantry URL: set GANTRY_URL or pass --url');
  if (!auth.bearer && (!id || !secret)) {
    throw usageError(
      'no API key: set GANTRY_KEY_ID and GANTRY_KEY_SECRET, or pass --key-id and --key-secret',
    );
  }
  const pollMs = Number(process.env.GANTRY_POLL_MS ?? 2000);
  return {
    client: new GantryClient({ url, key: id && secret ? { id, secret } : undefined, bearer: auth.bearer }),
    json: output === 'json',
    out: process.stdout,
    err: process.stderr,
    pollMs: Number.isFinite(pollMs) && pollMs > 0 ? pollMs : 2000,
  };
}

/** Prints the JSON answer with `--output json`, else the human rendering. */
export function print(ctx: Context, value: unknown, human: () => string): void {
  ctx.out.write(ctx.json ? `${JSON.stringify(value, null, 2)}\n` : human());
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
