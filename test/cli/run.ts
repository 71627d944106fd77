import { spawn } from 'node:child_process';

/** Runs a node script as CI does (a child process, no TTY) and collects its output and exit code. */

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Asynchronous on purpose: the server under test lives in the calling process, so its event loop
 * must keep turning. An `undefined` in env removes that variable from the child's environment.
 */
export function runNode(
  nodeArgs: string[],
  env: Record<string, string | undefined>,
  cwd: string,
): Promise<Run> {
  const merged = { ...process.env, ...env };
  const childEnv = Object.fromEntries(
    Object.entries(merged).filter((e): e is [string, string] => e[1] !== undefined),
  );
  const child = spawn(process.execPath, nodeArgs, { cwd, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}
