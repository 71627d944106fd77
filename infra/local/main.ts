import { ENV } from '../../shared/adapters/runtime';
import { LOCAL_OUTBOUND_ALLOW, startLocalServer } from './server';

/** `npm start`: the whole service on 127.0.0.1, configured by the variables of docs/api.md section 9. */
// The SDK warns that its 2027 releases need Node 22; Gantry runs on 20 and 22 alike.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const port = Number(process.env.PORT ?? 3000);
const outboundDefault = process.env[ENV.outboundAllow] === undefined;
const server = await startLocalServer({
  port,
  dataDir: process.env.GANTRY_DATA_DIR ?? '.gantry',
  apiKeys: process.env.GANTRY_API_KEYS,
  publicUrl: process.env.GANTRY_PUBLIC_URL,
  secrets: process.env.GANTRY_SECRETS,
  timeScale: Number(process.env.GANTRY_TIME_SCALE ?? 1),
});

console.log(`Gantry is listening on ${server.url} (data in ${server.dataDir})`);
if (outboundDefault) {
  console.log(
    `Outbound requests may reach ${LOCAL_OUTBOUND_ALLOW} addresses: local runtime default; ` +
      `${ENV.outboundAllow}=... to change (empty: only public addresses, as in AWS).`,
  );
}
if (server.generatedKey) {
  console.log(`Admin key (also in ${server.dataDir}/api-keys.json):`);
  console.log(`  GANTRY_KEY_ID=${server.generatedKey.id}`);
  console.log(`  GANTRY_KEY_SECRET=${server.generatedKey.secret}`);
}

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping`);
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
