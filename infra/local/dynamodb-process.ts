import { ClassicLevel } from 'classic-level';
import { countRequests, newDynalite, type StoreMessage, type StoreReply } from './dynamodb';
import { listen } from './net';

/**
 * The local runtime's DynamoDB in a process of its own (forked by ./dynamodb.ts), as DynamoDB is
 * separate from Lambda in AWS: its heap and event loop are not the server's. argv[2] is the LevelDB
 * directory (none: in memory). It exits when its parent goes, however the parent went (IPC disconnect).
 */
const path = process.argv[2] || undefined;
const LOCK_WAIT_MS = 15_000;

const reply = (message: StoreReply) => process.send?.(message);

process.on('disconnect', () => process.exit(0));
// Ctrl-C reaches the whole process group: the server closes the store itself once its own work is done.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => undefined);

/**
 * LevelDB allows one process per directory. After a `kill -9` of the server, the store process it
 * left exits a moment later: wait for its lock rather than fail (dynalite would crash on a locked one).
 */
async function waitForLock(directory: string): Promise<void> {
  for (const until = Date.now() + LOCK_WAIT_MS; ; ) {
    const db = new ClassicLevel(directory);
    try {
      await db.open();
      await db.close();
      return;
    } catch (error) {
      const locked = (error as { cause?: { code?: string } }).cause?.code === 'LEVEL_LOCKED';
      if (!locked) throw error;
      if (Date.now() > until) throw new Error(`${directory} is in use by another process (another Gantry?).`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

async function main(): Promise<void> {
  if (path) await waitForLock(path);
  const server = newDynalite(path);
  const counts = countRequests(server);
  process.on('message', (message: StoreMessage) => {
    if (message.type === 'counters') reply({ type: 'counters', id: message.id, ...counts });
    if (message.type === 'close') server.close(() => process.exit(0));
  });
  reply({ type: 'ready', port: await listen(server, 0) });
}

main().catch((error: Error) => {
  reply({ type: 'failed', message: error.message });
  process.exit(1);
});
