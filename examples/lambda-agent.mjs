// A minimal Gantry job agent as a Lambda function (the `lambda` agent type of docs/configuration.md): Gantry invokes
// it asynchronously with the job of docs/api.md section 6 as the event; it deploys, then reports the outcome
// on the job's callback URL with the job's bearer token. Deploy it as `gantry-agent-<name>` (the stack
// lets Gantry invoke only that prefix), Node.js 22 or later, and point a deployment at it:
//   {"jobAgent": {"type": "lambda", "functionName": "gantry-agent-<name>"}}

/** Replace with the real work: apply `job.version.tag` with `job.variables` to `job.resource`. */
async function deploy(job) {
  console.log(`job ${job.jobId}: ${job.kind} ${job.version.tag} to ${job.environment.id}/${job.resource.id}`);
  return { status: 'successful', message: `deployed ${job.version.tag}` };
}

async function report(job, outcome) {
  const answer = await fetch(job.callback.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${job.callback.token}` },
    body: JSON.stringify(outcome),
  });
  // 409: the job already ended (a retry of this invocation, or the job timed out): nothing to do.
  if (!answer.ok && answer.status !== 409) throw new Error(`callback answered ${answer.status}`);
}

export const handler = async (job) => {
  let outcome;
  try {
    outcome = await deploy(job);
  } catch (error) {
    outcome = { status: 'failed', message: String(error?.message ?? error).slice(0, 2048) };
  }
  await report(job, outcome);
};
