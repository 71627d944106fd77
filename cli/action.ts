/**
 * The GitHub Action (action.yml runs its bundle, dist/action.mjs): `gantry version create --wait` with
 * the step's inputs, in this process, so the step's exit code is the CLI's (1 a target failed, 3 timeout).
 * The workflow-command protocol is written by hand: @actions/core would add 800 KB of HTTP client.
 */
import process from 'node:process';

/** GitHub passes input `key-id` as INPUT_KEY-ID: upper case, spaces as underscores, dashes kept. */
const input = (name: string) => (process.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] ?? '').trim();

/** Escapes a workflow command's value, so `%` and line breaks cannot end it early. */
const commandValue = (text: string) => text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');

const missing = ['url', 'key-id', 'key-secret', 'deployment', 'tag'].filter((name) => !input(name));
if (missing.length > 0) {
  process.stdout.write(`::error::gantry: missing input(s) ${missing.join(', ')}: set them under with:\n`);
  process.exit(2);
}

// Before anything else is printed: the runner hides the secret in every later line of the log.
process.stdout.write(`::add-mask::${commandValue(input('key-secret'))}\n`);
// The key travels in this process's environment, never in arguments that `ps` would show.
process.env.GANTRY_URL = input('url');
process.env.GANTRY_KEY_ID = input('key-id');
process.env.GANTRY_KEY_SECRET = input('key-secret');

const metadata = input('metadata')
  .split('\n')
  .map((line) => line.trim())
  .filter(Boolean)
  .flatMap((line) => ['--metadata', line]);
process.argv = [
  ...process.argv.slice(0, 2),
  ...['version', 'create', '--deployment', input('deployment'), '--tag', input('tag')],
  ...['--wait', '--timeout', input('timeout') || '30m', ...metadata],
];

await import('./bin');
