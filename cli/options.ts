import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { usageError } from './client';

/** Option parsers: a bad value is a usage error (exit 2), reported by commander with the option's name. */

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `30m`, `2s`, `1h30m`, `500ms`, or bare seconds; answers milliseconds. */
export function parseDuration(text: string): number {
  const bare = /^\d+$/.test(text) ? `${text}s` : text;
  const parts = [...bare.matchAll(/(\d+)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== bare) {
    throw new InvalidArgumentError('expected a duration such as 90s, 30m or 1h');
  }
  return parts.reduce((sum, p) => sum + Number(p[1]) * (UNITS[p[2] ?? 's'] ?? 1000), 0);
}

/** Repeatable `k=v`, collected into an object. */
export function collectKeyValue(text: string, previous: Record<string, string> = {}): Record<string, string> {
  const at = text.indexOf('=');
  if (at < 1) throw new InvalidArgumentError(`expected key=value, got "${text}"`);
  return { ...previous, [text.slice(0, at)]: text.slice(at + 1) };
}

export function readJsonObject(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw usageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw usageError(`${file} is not JSON: ${(error as Error).message}`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw usageError(`${file} must hold a JSON object`);
  }
  return value as Record<string, unknown>;
}
