// A minimal Gantry job agent (docs/api.md section 6): receives webhook jobs and reports them on the callback URL.
// It also serves GET /metrics, {"errorRate": ...}, for the verification example of docs/policies.md.
// Run: node examples/agent.mjs   (127.0.0.1:4000)
// AGENT_PORT (4000), AGENT_STATUS (successful | failed), AGENT_DELAY_MS (1000), AGENT_ERROR_RATE (0.001).
import { createServer } from 'node:http';

const port = Number(process.env.AGENT_PORT ?? 4000);
const status = process.env.AGENT_STATUS ?? 'successful';
const delayMs = Number(process.env.AGENT_DELAY_MS ?? 1000); // pretend the deploy takes a while
const errorRate = Number(process.env.AGENT_ERROR_RATE ?? 0.001);

createServer(async (req, res) => {
  if (req.method === 'GET' && req.url === '/metrics') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ errorRate }));
    return;
  }
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  let job;
  try {
    job = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    res.writeHead(400).end();
    return;
  }
  // Answer at once (a 2xx means "accepted"); report the outcome later on the callback URL.
  res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  console.log(`job ${job.jobId}: ${job.kind} ${job.version.tag} to ${job.environment.id}/${job.resource.id}`);

  await new Promise((resolve) => setTimeout(resolve, delayMs));
  const answer = await fetch(job.callback.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${job.callback.token}` },
    body: JSON.stringify({ status, message: `example agent: ${status}` }),
  });
  console.log(`job ${job.jobId}: reported ${status} -> ${answer.status}`);
}).listen(port, '127.0.0.1', () => console.log(`agent listening on http://127.0.0.1:${port}/`));
