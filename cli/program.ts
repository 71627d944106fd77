import { Command, CommanderError, Option } from 'commander';
import { version as packageVersion } from '../package.json';
import { CliError, EXIT } from './client';
import * as freezes from './commands/freezes';
import { metrics, parseDay, parseSince } from './commands/metrics';
import * as ops from './commands/ops';
import * as subs from './commands/subscriptions';
import { createVersion, getVersion, setVersionStatus } from './commands/version';
import { contextOf } from './context';
import { collectKeyValue, parseDuration } from './options';

/** The `gantry` command line: argument parsing and exit codes; the work is in ./commands and ./apply. */

const HELP_FOOTER = `
Configuration: GANTRY_URL, GANTRY_KEY_ID and GANTRY_KEY_SECRET (or --url, --key-id, --key-secret).
Exit codes: 0 ok, 1 rollout failed or request refused, 2 usage error, 3 timeout.

Examples:
  gantry version create --deployment api --tag v1.2.3 --metadata commit=$GITHUB_SHA --wait --timeout 30m
  gantry plan --deployment api --tag v1.2.3
  gantry status --deployment api --output json
  gantry metrics --deployment api --environment production --since 30d
  gantry apply -f gantry.yaml --dry-run`;

type Action<A extends unknown[]> = (...args: A) => Promise<number>;

export function buildProgram(setExit: (code: number) => void): Command {
  const act =
    <A extends unknown[]>(fn: Action<A>) =>
    async (...args: A) => {
      setExit(await fn(...args));
    };
  const deployment = () => new Option('--deployment <id>', 'deployment id').makeOptionMandatory();
  const tag = () => new Option('--tag <tag>', 'version tag').makeOptionMandatory();
  const timeout = () =>
    new Option('--timeout <duration>', 'with --wait: give up (exit 3) after this long, e.g. 90s, 30m, 1h')
      .argParser(parseDuration)
      .default(30 * 60_000, '30m');

  const program = new Command('gantry')
    .description('Gantry: create versions, follow rollouts, approve, override and apply configuration')
    .version(packageVersion)
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .addOption(new Option('--url <url>', 'Gantry API base URL').env('GANTRY_URL'))
    .addOption(new Option('--key-id <id>', 'API key id').env('GANTRY_KEY_ID'))
    .addOption(new Option('--key-secret <secret>', 'API key secret').env('GANTRY_KEY_SECRET'))
    .addOption(
      new Option('-o, --output <format>', 'output format of reads')
        .choices(['table', 'json'])
        .default('table'),
    )
    .addHelpText('after', HELP_FOOTER);

  const version = program.command('version').description('create a version and follow its rollout');
  version
    .command('create')
    .description('create a version; with --wait follow every release target until the rollout ends')
    .addOption(deployment())
    .addOption(tag())
    .option('--building', 'create it "building": rollouts start on `gantry version ready`')
    .option('--metadata <key=value>', 'version metadata (repeatable)', collectKeyValue)
    .option('--config-file <file.json>', 'a JSON object sent as the version config')
    .option('--wait', 'follow the rollout; exit 0 when every target is successful, 1 when one is not')
    .addOption(timeout())
    .action(act((o, cmd: Command) => createVersion(contextOf(cmd), o)));
  for (const [name, status] of [
    ['ready', 'ready'],
    ['reject', 'rejected'],
  ] as const) {
    const command = version
      .command(name)
      .description(
        status === 'ready'
          ? 'mark a building version ready (starts its rollouts)'
          : 'reject a version (cancels its releases that have not dispatched a job)',
      )
      .addOption(deployment())
      .addOption(tag());
    if (status === 'ready')
      command.option('--wait', 'follow the rollout as `create --wait` does').addOption(timeout());
    command.action(act((o, cmd: Command) => setVersionStatus(contextOf(cmd), { timeout: 0, ...o }, status)));
  }
  version
    .command('get')
    .description('a version and its releases')
    .addOption(deployment())
    .addOption(tag())
    .action(act((o, cmd: Command) => getVersion(contextOf(cmd), o)));

  program
    .command('plan')
    .description('what will happen to each release target of a version: gates, policies, estimated start')
    .addOption(deployment())
    .addOption(tag())
    .action(act((o, cmd: Command) => ops.plan(contextOf(cmd), o)));
  program
    .command('status')
    .description('per release target: current version, desired version and live status')
    .option('--deployment <id>', 'only this deployment')
    .option('--environment <id>', 'only this environment')
    .action(act((o, cmd: Command) => ops.status(contextOf(cmd), o)));
  program
    .command('approvals')
    .description('list approvals, newest first')
    .addOption(
      new Option('--status <status>', 'only these').choices(['pending', 'approved', 'rejected', 'expired']),
    )
    .action(act((o, cmd: Command) => ops.approvals(contextOf(cmd), o)));
  for (const decision of ['approve', 'reject'] as const) {
    program
      .command(decision)
      .description(`${decision} an approval (needs a key with approvals:write)`)
      .argument('<approvalId>')
      .addOption(
        new Option('--approver <name>', "only as a check: the key's approver decides").env('GANTRY_APPROVER'),
      )
      .option('--reason <text>', 'why')
      .action(act((id: string, o, cmd: Command) => ops.decide(contextOf(cmd), id, o, decision)));
  }
  for (const action of ['pause', 'resume'] as const) {
    program
      .command(action)
      .description(
        action === 'pause' ? 'stop dispatching jobs for a deployment' : 'resume a paused deployment',
      )
      .addOption(deployment())
      .option('--reason <text>', 'recorded with the override')
      .action(act((o, cmd: Command) => ops.pause(contextOf(cmd), o, action)));
  }
  program
    .command('rollback')
    .description('redeploy the previous successful version (or --to) on one release target, past every gate')
    .addOption(deployment())
    .requiredOption('--environment <id>', 'environment id')
    .requiredOption('--resource <id>', 'resource id')
    .option('--to <tag>', 'the version to go back to')
    .option('--reason <text>', 'recorded with the override')
    .action(act((o, cmd: Command) => ops.rollback(contextOf(cmd), o)));
  program
    .command('force')
    .description('skip the remaining gates of one release')
    .addOption(deployment())
    .requiredOption('--environment <id>', 'environment id')
    .requiredOption('--resource <id>', 'resource id')
    .addOption(tag())
    .requiredOption('--reason <text>', 'recorded with the override')
    .action(act((o, cmd: Command) => ops.force(contextOf(cmd), o)));
  program
    .command('cancel')
    .description('cancel the unfinished releases of a version')
    .addOption(deployment())
    .addOption(tag())
    .option('--reason <text>', 'recorded in the releases')
    .action(act((o, cmd: Command) => ops.cancel(contextOf(cmd), o)));
  program
    .command('freeze')
    .description(
      'stop the line: releases the selector matches that have not dispatched wait (until --until, for --for, during the events of an --ics calendar, or until unfreeze)',
    )
    .argument('[freezeId]')
    .option('--reason <text>', 'shown on every release it holds')
    .option(
      '--selector <cel>',
      "CEL over deployment and environment (default: every release), e.g. environment.id == 'production'",
    )
    .option('--until <iso-time>', 'it ends by itself then')
    .addOption(
      new Option('--for <duration>', 'it ends by itself after this long, e.g. 2h').argParser(parseDuration),
    )
    .option('--ics <url>', 'an iCalendar feed: each of its events is a freeze for its duration')
    .option('--refresh <seconds>', 'with --ics: read the feed again this often (default 900)', (v) =>
      Number(v),
    )
    .option('--list', 'list the freezes instead')
    .action(act((id: string | undefined, o, cmd: Command) => freezes.freeze(contextOf(cmd), id, o)));
  program
    .command('unfreeze')
    .description('end a freeze now: the releases it held go on through their other gates')
    .argument('<freezeId>')
    .action(act((id: string, _o, cmd: Command) => freezes.unfreeze(contextOf(cmd), id)));
  program
    .command('freezes')
    .description('list the freezes: active or not, until when, what they hold')
    .action(act((_o, cmd: Command) => freezes.listFreezes(contextOf(cmd))));
  program
    .command('subscribe')
    .description(
      'POST every matching event to a URL, signed, in order per release target (Teams, mail, PagerDuty...)',
    )
    .argument('<subscriptionId>')
    .option('--to <url>', 'the URL each matching event is POSTed to')
    .option('--secret-ref <name>', 'the secret deliveries are signed with (X-Gantry-Signature)')
    .option('--detail-type <type...>', 'only these event types, e.g. "Release Failed" "Approval Requested"')
    .option('--selector <cel>', "CEL over the event, e.g. event.environment == 'production'")
    .action(act((id: string, o, cmd: Command) => subs.subscribe(contextOf(cmd), id, o)));
  program
    .command('unsubscribe')
    .description('delete a subscription: nothing more is delivered to it')
    .argument('<subscriptionId>')
    .action(act((id: string, _o, cmd: Command) => subs.unsubscribe(contextOf(cmd), id)));
  program
    .command('subscriptions')
    .description('list the subscriptions and their health, or one with its last deliveries')
    .argument('[subscriptionId]')
    .action(act((id: string | undefined, _o, cmd: Command) => subs.subscriptions(contextOf(cmd), id)));
  program
    .command('events')
    .description('the audit trail, oldest first; --follow keeps printing new events')
    .option('--deployment <id>', 'only this deployment')
    .option('--since <iso-time>', 'from this time on, e.g. 2026-11-21T10:00:00Z')
    .option('--follow', 'poll for new events until interrupted')
    .action(act((o, cmd: Command) => ops.events(contextOf(cmd), o)));
  program
    .command('metrics')
    .description(
      'delivery metrics (DORA): deployments per day, lead time, change failure rate, time to restore',
    )
    .option('--deployment <id>', 'only this deployment (default: every deployment)')
    .option('--environment <id>', 'only this environment (default: every environment)')
    .addOption(
      new Option(
        '--since <when>',
        'from this day: 30d (the last 30 days), a date or an ISO time; at most 92 days',
      )
        .argParser((text) => parseSince(text))
        .default(undefined, '30d'),
    )
    .addOption(
      new Option('--until <when>', 'to this day (a date or an ISO time; default today)').argParser(parseDay),
    )
    .action(act((o, cmd: Command) => metrics(contextOf(cmd), o)));

  const job = program.command('job').description('for job agents');
  job
    .command('report')
    .description("report a job's status (with the job's bearer token or a jobs:write key)")
    .argument('<jobId>')
    .addOption(
      new Option('--status <status>', 'job status')
        .choices(['in_progress', 'successful', 'failed'])
        .makeOptionMandatory(),
    )
    .option('--message <text>', 'shown on the release')
    .option('--link <name=url>', 'a link such as logs=https://... (repeatable)', collectKeyValue)
    .addOption(new Option('--token <bearer>', "the job's callback token").env('GANTRY_JOB_TOKEN'))
    .action(
      act((id: string, o, cmd: Command) =>
        ops.jobReport(contextOf(cmd, { bearer: (o as { token?: string }).token }), id, o),
      ),
    );

  program
    .command('init')
    .description(
      'write a commented starter gantry.yaml from the inventory (gantry apply accepts it unchanged)',
    )
    .option('-f, --file <gantry.yaml>', 'where to write it ("-" for stdout)', 'gantry.yaml')
    .option('--deployment <id>', 'the deployment to declare', 'app')
    .option('--force', 'overwrite an existing file')
    .action(
      act(async (o, cmd: Command) => {
        const { init } = await import('./init');
        return init(contextOf(cmd), o);
      }),
    );

  program
    .command('open')
    .description('print a short-lived, read-only link to the status page (no API secret in it)')
    .option('--deployment <id>', 'limit the link to one deployment')
    .option('--ttl <seconds>', 'how long the link works (max 86400)', (v) => Number(v), 3600)
    .action(
      act(async (o: { deployment?: string; ttl: number }, cmd: Command) => {
        const { openLink } = await import('./open');
        const ctx = contextOf(cmd);
        const url = await openLink(ctx.client, { deployment: o.deployment, ttlSeconds: o.ttl });
        ctx.out.write(ctx.json ? `${JSON.stringify({ url })}\n` : `${url}\n`);
        return EXIT.ok;
      }),
    );

  program
    .command('apply')
    .description('apply a gantry.yaml of environments, deployments, policies (and resources): diff, then PUT')
    .requiredOption('-f, --file <gantry.yaml>', 'the file ("-" for stdin)')
    .option('--dry-run', 'print the diff and write nothing')
    .action(
      act(async (o, cmd: Command) => {
        // Loaded on demand: the schemas bring the CEL and rrule parsers, which no other command needs.
        const { apply } = await import('./apply');
        return apply(contextOf(cmd), o);
      }),
    );

  return program;
}

/** Runs the CLI; answers the exit code. */
export async function run(argv: string[]): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram((c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv);
    return code;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (error instanceof CliError) {
      process.stderr.write(`gantry: ${error.message}\n`);
      return error.exitCode;
    }
    process.stderr.write(
      `gantry: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    return EXIT.failed;
  }
}
