// Every command, its arguments and options, and nothing else: each action loads its command module when it
// runs, so `--help` and the commands that need no server never load the Temporal SDK.
import { Command, Option } from 'commander';

/** What a command module's function returns: its exit code, or nothing for 0. */
export type CommandRun<A extends unknown[]> = (...args: [...A, Command]) => Promise<number | void>;

export interface ProgramState {
  /** The exit code the command that ran asked for. */
  exitCode: number;
}

/**
 * Long on purpose: one flat list of declarations, no logic, in the order `--help` shows them, so a command's
 * whole surface is read in one place.
 */
export function buildProgram(state: ProgramState = { exitCode: 0 }): Command {
  /** An action that imports its command module only when the command runs. */
  function lazy<A extends unknown[]>(load: () => Promise<CommandRun<A>>) {
    return async (...args: [...A, Command]): Promise<void> => {
      const run = await load();
      const code = await run(...args);
      if (typeof code === 'number') state.exitCode = code;
    };
  }

  const program = new Command('orchestrate')
    .description('Durable orchestrator for headless AI coding-agent jobs across many projects, on Temporal')
    .option('-c, --config <path>', 'workspaces.toml to use (default: $ORCHESTRATE_CONFIG, else ./workspaces.toml)')
    .showHelpAfterError()
    .exitOverride();

  program
    .command('up')
    .description(
      'start the local Temporal dev server (if needed), apply the schedules and run the worker in the foreground',
    )
    .option(
      '--host <name>',
      'also serve this host\'s projects (queue <task_queue>@<name>); default: [orchestrator] host; "" = none',
    )
    .option('--force', 'start even if an `up` or worker already serves this state folder')
    .action(lazy(async () => (await import('./commands/up')).up));

  program
    .command('worker')
    .description('run a worker in the foreground (the Temporal server must be reachable)')
    .option(
      '--host <name>',
      'serve this host\'s projects (queue <task_queue>@<name>) instead of the shared queue; default: [orchestrator] host; "" = the shared queue',
    )
    .option('--shared', 'with a host: also serve the shared queue (projects without a host, cycles, schedules)')
    .option('--force', 'start even if a worker of this state folder already polls the same queue')
    .action(lazy(async () => (await import('./commands/worker')).worker));

  const server = program
    .command('server')
    .description('manage the local Temporal dev server (SQLite in the state folder)');
  server
    .command('start')
    .description('start the dev server in the background; does nothing if it is already running')
    .action(lazy(async () => (await import('./commands/server')).serverStart));
  server
    .command('stop')
    .description('stop the dev server')
    .action(lazy(async () => (await import('./commands/server')).serverStop));
  server
    .command('status')
    .description('is the dev server running, and where is the Web UI')
    .option('--json', 'print JSON')
    .action(lazy(async () => (await import('./commands/server')).serverStatus));

  program
    .command('run')
    .description("run one agent job in a project's folder and print its result")
    .requiredOption('-p, --project <name>', 'project from workspaces.toml')
    .option('--prompt <text>', "prompt for this job (default: the project's prompt)")
    .option('--no-wait', 'start the job and return at once')
    .option('--attach', 'if a job for this project is already running, follow it instead of refusing')
    .option('--json', 'print one JSON object')
    .action(lazy(async () => (await import('./commands/run')).run));

  const batches = {
    cycle: 'evaluate gates and run one job per project with work',
    eod: "end of day: each project's job writes its work log, then the digest",
    rollover: "carry yesterday's unfinished work into today (and the month's, on the 1st)",
  } as const;
  for (const kind of ['cycle', 'eod', 'rollover'] as const) {
    program
      .command(kind)
      .description(batches[kind])
      .option('--project <names...>', 'only these projects')
      .option('--date <YYYY-MM-DD>', 'act for this day (default: today in the configured timezone)')
      .option('--wait', 'follow progress and print the result table')
      .option('--attach', `if a ${kind} is already running, follow it instead of refusing`)
      .option('--json', 'print JSON (with --wait: the result)')
      .action(lazy(async () => (await import('./commands/batch')).batchCommand(kind)));
  }

  for (const name of ['pause', 'resume'] as const) {
    program
      .command(name)
      .description(name === 'pause' ? 'pause a project: cycles skip it until resumed' : 'resume a paused project')
      .requiredOption('-p, --project <name>', 'project from workspaces.toml')
      .action(lazy(async () => (await import('./commands/pause')).pauseCommand(name === 'pause')));
  }

  const schedule = program
    .command('schedule')
    .alias('schedules')
    .description('the nightly EOD, morning rollover and cycle cadence, run by the Temporal server');
  schedule
    .command('apply')
    .description('create or update the schedules from workspaces.toml (idempotent)')
    .option('--print-temporal-cli', 'print the equivalent `temporal schedule create` commands instead')
    .action(lazy(async () => (await import('./commands/schedule')).scheduleApply));
  schedule
    .command('list')
    .description('schedules with their next run times')
    .option('--json', 'print JSON')
    .action(lazy(async () => (await import('./commands/schedule')).scheduleList));
  for (const action of ['pause', 'unpause', 'trigger', 'delete'] as const) {
    schedule
      .command(`${action} <name>`)
      .description(`${action} a schedule (eod, rollover, cycle or a schedule ID)`)
      .action(lazy(async () => (await import('./commands/schedule')).scheduleAction(action)));
  }

  program
    .command('status')
    .description('running jobs (pid, phase), last outcome and spend per project, next schedule runs, server and Web UI')
    .option('--json', 'print JSON')
    .action(lazy(async () => (await import('./commands/status')).status));

  program
    .command('logs <target>')
    .description("a job's agent output (stdout, stderr) from its run folder; <target> is a project or job/<project>")
    .option('-f, --follow', 'keep printing while the job runs; stop when it ends')
    .option('--path', 'print the run folder only')
    .option('--raw', 'print the output files as written (default: an event stream rendered as a conversation)')
    .action(lazy(async () => (await import('./commands/logs')).logs));

  program
    .command('history')
    .description('finished jobs, newest first: outcome, duration, cost, turns and log folder (from the cost ledger)')
    .option('--project <names...>', 'only these projects')
    .option('--since <when>', 'how far back: "7d", "24h", a day (YYYY-MM-DD, today, yesterday) or an ISO time', '7d')
    .option('--limit <n>', 'at most this many jobs (newest)', '50')
    .option('--json', 'print JSON (an array, newest first)')
    .action(lazy(async () => (await import('./commands/history')).history));

  program
    .command('costs')
    .description('agent spend per project per day (cost, jobs, turns, agent time, tokens), from the cost ledger')
    .option('--since <when>', 'how far back: "7d", "24h", a day (YYYY-MM-DD, today, yesterday) or an ISO time', '7d')
    .option('--project <names...>', 'only these projects')
    .option('--json', 'print JSON')
    .action(lazy(async () => (await import('./commands/costs')).costs));

  program
    .command('init')
    .description('write a starter workspaces.toml (every key documented), listing the git repositories under --scan')
    .option('--scan <dir>', 'list the git repositories found under this folder (those with a CLAUDE.md first)')
    .option('--depth <n>', 'how many folders deep --scan looks', '3')
    .option('--force', 'overwrite an existing file (the old one is kept as <file>.bak)')
    .action(lazy(async () => (await import('./commands/init')).init));

  const sessions = program
    .command('sessions')
    .description('the persistent tmux sessions (projects in orchestrator.persistent), on their own tmux socket');
  sessions
    .command('list')
    .description('each session with its project, age, and whether a job is using it')
    .option('--json', 'print JSON')
    .action(lazy(async () => (await import('./commands/sessions')).sessionsList));
  sessions
    .command('reap')
    .description(
      'kill the sessions orchestrate made for projects no longer in orchestrator.persistent, unless a job uses them',
    )
    .option('--json', 'print JSON')
    .action(lazy(async () => (await import('./commands/sessions')).sessionsReap));

  program
    .command('cancel <target>')
    .description('cancel a running job (project name or workflow ID) or batch (cycle, eod, rollover)')
    .option('--wait', 'wait until it has stopped (agent process group gone)')
    .action(lazy(async () => (await import('./commands/cancel')).cancel));

  program.addOption(new Option('--no-color', 'plain output').hideHelp());
  return program;
}
