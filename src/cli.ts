#!/usr/bin/env node
// `orchestrate`: the terminal view and controls. Exit codes: 0 ok / job succeeded, 1 job failed,
// 2 usage, config or setup error, 3 refused because a job for that project is already running.
import { Command, CommanderError, Option } from 'commander';
import { ScheduleNotFoundError } from '@temporalio/client';
import { AlreadyRunningError, connectClient, jobResult, queuePollers, startBatch, startJob } from './temporal/client';
import { setPaused } from './gates';
import {
  applySchedules,
  describeSchedules,
  plannedSchedules,
  scheduleIdFor,
  temporalCliCommand,
} from './temporal/schedules';
import { watchBatch } from './cli/watch';
import { batchFailed, renderBatch, renderTable } from './cli/table';
import { ConfigError, type Config } from './config';
import { EXIT, UserError, getConfig, print, requireProject } from './cli/common';
import { webUiUrl } from './temporal/connection';
import { formatDuration } from './lib/duration';
import { devServerStatus, startDevServer, stopDevServer, type DevServerOptions } from './devserver/server';
import { uiWorkflowUrl } from './temporal/ui';
import { type JobResult } from './temporal/types';
import { taskQueueFor } from './temporal/ids';
import { runWorker } from './worker';
import { Progress } from './cli/progress';
import { registerStatusCommands } from './cli/status';
import { registerLogsCommands } from './cli/logs';
import { registerHistoryCommands } from './cli/history';
import { registerCostsCommands } from './cli/costs';
import { registerInitCommands } from './cli/init';
import { registerSessionCommands } from './cli/sessions';
import { registerCancelCommands } from './cli/cancel';

function devServerOptions(config: Config): DevServerOptions {
  return {
    stateDir: config.orchestrator.stateDir,
    ip: config.server.ip,
    port: config.server.port,
    uiPort: config.server.uiPort,
    namespace: config.server.namespace,
  };
}

/** The host a worker serves: `--host` (\"\" = none) wins over `[orchestrator] host`. */
export function workerHost(config: Config, flag: string | undefined): { host: string | null; hostSource?: string } {
  if (flag !== undefined) return flag.trim() ? { host: flag.trim(), hostSource: '--host' } : { host: null };
  return config.orchestrator.host
    ? { host: config.orchestrator.host, hostSource: '[orchestrator] host' }
    : { host: null };
}

export function exitCodeFor(result: JobResult): number {
  if (result.outcome === 'succeeded') return EXIT.ok;
  if (result.outcome === 'setup_error') return EXIT.usage;
  return EXIT.failed;
}

function formatCost(usd: number | null): string {
  return usd === null ? 'cost n/a' : `$${usd.toFixed(usd < 1 ? 4 : 2)}`;
}

export function formatJobResult(r: JobResult, uiUrl: string): string {
  const head = [
    `${r.project} · ${r.outcome}`,
    r.durationMs ? formatDuration(r.durationMs) : null,
    formatCost(r.costUsd),
    r.numTurns !== null ? `${r.numTurns} turns` : null,
  ]
    .filter(Boolean)
    .join(' · ');
  const lines = [head];
  if (r.outcome !== 'succeeded') lines.push(r.message);
  if (r.result)
    lines.push(
      '',
      r.result.trimEnd() + (r.resultTruncated ? '\n… (truncated; full output in the log folder)' : ''),
      '',
    );
  if (r.logPath) lines.push(`log: ${r.logPath}`);
  lines.push(`web: ${uiUrl}`);
  return lines.join('\n');
}

export function buildProgram(): Command {
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
    .action(async (opts: { host?: string }, cmd: Command) => {
      const config = await getConfig(cmd, { allowMissing: true });
      const host = workerHost(config, opts.host);
      const server = await startDevServer({
        ...devServerOptions(config),
        onProgress: (m) => process.stderr.write(m + '\n'),
      });
      print(
        `Temporal ${server.alreadyRunning ? 'already running' : 'started'} at ${server.address}; Web UI: ${server.uiUrl}`,
      );
      const { client, connection } = await connectClient(config);
      try {
        const applied = await applySchedules(client, config);
        const names = [...applied.created, ...applied.updated];
        print(names.length ? `schedules: ${names.join(', ')}` : 'schedules: none configured');
      } finally {
        await connection.close();
      }
      // `up` is the single-machine command and starts the schedules, so it always serves the shared queue.
      await runWorker(config, undefined, { ...host, shared: true });
      if (!server.alreadyRunning) {
        await stopDevServer(devServerOptions(config));
        print('Temporal dev server stopped (its data stays in the state folder).');
      }
    });

  program
    .command('worker')
    .description('run a worker in the foreground (the Temporal server must be reachable)')
    .option(
      '--host <name>',
      'serve this host\'s projects (queue <task_queue>@<name>) instead of the shared queue; default: [orchestrator] host; "" = the shared queue',
    )
    .option('--shared', 'with a host: also serve the shared queue (projects without a host, cycles, schedules)')
    .action(async (opts: { host?: string; shared?: boolean }, cmd: Command) => {
      const config = await getConfig(cmd, { allowMissing: true });
      await runWorker(config, undefined, { ...workerHost(config, opts.host), shared: Boolean(opts.shared) });
    });

  const server = program
    .command('server')
    .description('manage the local Temporal dev server (SQLite in the state folder)');
  server
    .command('start')
    .description('start the dev server in the background; does nothing if it is already running')
    .action(async (_opts, cmd: Command) => {
      const config = await getConfig(cmd, { allowMissing: true });
      const s = await startDevServer({
        ...devServerOptions(config),
        onProgress: (m) => process.stderr.write(m + '\n'),
      });
      print(
        `${s.alreadyRunning ? 'already running' : 'started'}: Temporal at ${s.address} (pid ${s.pid}); Web UI: ${s.uiUrl}`,
      );
    });
  server
    .command('stop')
    .description('stop the dev server')
    .action(async (_opts, cmd: Command) => {
      const config = await getConfig(cmd, { allowMissing: true });
      const r = await stopDevServer(devServerOptions(config));
      print(r.wasRunning ? 'stopped' : 'not running');
    });
  server
    .command('status')
    .description('is the dev server running, and where is the Web UI')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const config = await getConfig(cmd, { allowMissing: true });
      const s = await devServerStatus(devServerOptions(config));
      if (opts.json) print(JSON.stringify(s));
      else if (s.running)
        print(`running: Temporal at ${s.address} (pid ${s.pid}); Web UI: ${s.uiUrl}; data: ${s.dbPath}`);
      else
        print(
          `not running (start it with \`orchestrate server start\`); it would serve ${s.address}, Web UI ${s.uiUrl}`,
        );
      if (!s.running) process.exitCode = 1;
    });

  program
    .command('run')
    .description("run one agent job in a project's folder and print its result")
    .requiredOption('-p, --project <name>', 'project from workspaces.toml')
    .option('--prompt <text>', "prompt for this job (default: the project's prompt)")
    .option('--no-wait', 'start the job and return at once')
    .option('--attach', 'if a job for this project is already running, follow it instead of refusing')
    .option('--json', 'print one JSON object')
    .action(
      async (
        opts: { project: string; prompt?: string; wait: boolean; attach?: boolean; json?: boolean },
        cmd: Command,
      ) => {
        const config = await getConfig(cmd);
        requireProject(config, opts.project);
        const { client, connection } = await connectClient(config);
        try {
          let started;
          try {
            started = await startJob(
              client,
              config,
              { project: opts.project, kind: 'run', prompt: opts.prompt },
              { attach: opts.attach },
            );
          } catch (e) {
            if (e instanceof AlreadyRunningError) throw new UserError(e.message, EXIT.alreadyRunning);
            throw e;
          }
          const { handle, attached } = started;
          const runId = (await handle.describe()).runId;
          const link = uiWorkflowUrl(webUiUrl(config), client.options.namespace, handle.workflowId, runId);
          if (!opts.wait) {
            if (opts.json)
              print(JSON.stringify({ workflowId: handle.workflowId, runId, project: opts.project, webUrl: link }));
            else print(`started ${handle.workflowId} (run ${runId})\nweb: ${link}`);
            return;
          }
          const host = config.projects[opts.project].host;
          if (host) {
            const queue = taskQueueFor(config.orchestrator.taskQueue, host);
            if ((await queuePollers(client, client.options.namespace, queue)) === 0) {
              process.stderr.write(
                `waiting: no worker for host ${host} (queue ${queue}) — run \`orchestrate worker --host ${host}\` on that machine\n`,
              );
            }
          }
          const progress = new Progress(process.stderr, !opts.json);
          progress.start(`${attached ? 'following' : 'running'} ${handle.workflowId}`);
          let result: JobResult;
          try {
            result = await jobResult(handle, opts.project);
          } finally {
            progress.stop();
          }
          if (opts.json) {
            print(
              JSON.stringify({
                workflowId: result.workflowId,
                project: result.project,
                outcome: result.outcome,
                exitCode: result.exitCode,
                durationMs: result.durationMs,
                costUsd: result.costUsd,
                numTurns: result.numTurns,
                sessionId: result.sessionId,
                logPath: result.logPath,
                result: result.result,
                message: result.message,
                webUrl: link,
              }),
            );
          } else {
            print(formatJobResult(result, link));
          }
          process.exitCode = exitCodeFor(result);
        } finally {
          await connection.close();
        }
      },
    );

  for (const kind of ['cycle', 'eod', 'rollover'] as const) {
    const what = {
      cycle: 'evaluate gates and run one job per project with work',
      eod: "end of day: each project's job writes its work log, then the digest",
      rollover: "carry yesterday's unfinished work into today (and the month's, on the 1st)",
    }[kind];
    program
      .command(kind)
      .description(what)
      .option('--project <names...>', 'only these projects')
      .option('--date <YYYY-MM-DD>', 'act for this day (default: today in the configured timezone)')
      .option('--wait', 'follow progress and print the result table')
      .option('--json', 'print JSON (with --wait: the result)')
      .action(async (opts: { project?: string[]; date?: string; wait?: boolean; json?: boolean }, cmd: Command) => {
        const config = await getConfig(cmd);
        for (const p of opts.project ?? []) requireProject(config, p);
        if (opts.date && !/^\d{4}-\d{2}-\d{2}$/.test(opts.date))
          throw new UserError(`--date must be YYYY-MM-DD, got "${opts.date}"`);
        const { client, connection } = await connectClient(config);
        try {
          let handle;
          try {
            handle = await startBatch(client, config, kind, { projects: opts.project, date: opts.date });
          } catch (e) {
            if (e instanceof AlreadyRunningError) throw new UserError(e.message, EXIT.alreadyRunning);
            throw e;
          }
          const link = uiWorkflowUrl(webUiUrl(config), client.options.namespace, handle.workflowId);
          if (!opts.wait) {
            print(
              opts.json
                ? JSON.stringify({ workflowId: handle.workflowId, webUrl: link })
                : `started ${handle.workflowId}\nweb: ${link}`,
            );
            return;
          }
          const result = await watchBatch(handle, opts.json ? process.stderr : process.stdout);
          print(opts.json ? JSON.stringify(result) : `${renderBatch(result)}\nweb: ${link}`);
          if (batchFailed(result) || result.refused) process.exitCode = EXIT.failed;
        } finally {
          await connection.close();
        }
      });
  }

  for (const [name, paused] of [
    ['pause', true],
    ['resume', false],
  ] as const) {
    program
      .command(name)
      .description(paused ? 'pause a project: cycles skip it until resumed' : 'resume a paused project')
      .requiredOption('-p, --project <name>', 'project from workspaces.toml')
      .action(async (opts: { project: string }, cmd: Command) => {
        const config = await getConfig(cmd);
        requireProject(config, opts.project);
        await setPaused(config.orchestrator.stateDir, opts.project, paused);
        print(
          `${opts.project}: ${paused ? 'paused (cycles skip it; `orchestrate resume -p ' + opts.project + '` to resume)' : 'resumed'}`,
        );
      });
  }

  const schedule = program
    .command('schedule')
    .alias('schedules')
    .description('the nightly EOD, morning rollover and cycle cadence, run by the Temporal server');
  schedule
    .command('apply')
    .description('create or update the schedules from workspaces.toml (idempotent)')
    .option('--print-temporal-cli', 'print the equivalent `temporal schedule create` commands instead')
    .action(async (opts: { printTemporalCli?: boolean }, cmd: Command) => {
      const config = await getConfig(cmd);
      if (opts.printTemporalCli) {
        for (const s of plannedSchedules(config)) print(temporalCliCommand(config, s) + '\n');
        return;
      }
      const { client, connection } = await connectClient(config);
      try {
        const r = await applySchedules(client, config);
        for (const id of r.created) print(`created ${id}`);
        for (const id of r.updated) print(`updated ${id}`);
        for (const id of r.deleted) print(`deleted ${id} (no longer in config)`);
      } finally {
        await connection.close();
      }
    });
  schedule
    .command('list')
    .description('schedules with their next run times')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const config = await getConfig(cmd, { allowMissing: true });
      const { client, connection } = await connectClient(config);
      try {
        const rows = await describeSchedules(client, config.orchestrator.taskQueue);
        if (opts.json) print(JSON.stringify(rows));
        else if (!rows.length) print('no schedules (run `orchestrate schedule apply`)');
        else
          print(
            renderTable(
              ['SCHEDULE', 'STATE', 'WHEN', 'NEXT RUNS'],
              rows.map((r) => [r.id, r.paused ? 'paused' : 'active', r.description, r.nextRuns.slice(0, 2).join(', ')]),
            ),
          );
      } finally {
        await connection.close();
      }
    });
  for (const action of ['pause', 'unpause', 'trigger', 'delete'] as const) {
    schedule
      .command(`${action} <name>`)
      .description(`${action} a schedule (eod, rollover, cycle or a schedule ID)`)
      .action(async (name: string, _opts, cmd: Command) => {
        const config = await getConfig(cmd, { allowMissing: true });
        const { client, connection } = await connectClient(config);
        try {
          const handle = client.schedule.getHandle(scheduleIdFor(name, config.orchestrator.taskQueue));
          if (action === 'pause') await handle.pause('paused from the orchestrate CLI');
          else if (action === 'unpause') await handle.unpause('unpaused from the orchestrate CLI');
          else if (action === 'trigger') await handle.trigger();
          else await handle.delete();
          print(`${action}${action.endsWith('e') ? 'd' : 'ed'} ${handle.scheduleId}`);
        } catch (e) {
          if (e instanceof ScheduleNotFoundError)
            throw new UserError(
              `no schedule "${scheduleIdFor(name, config.orchestrator.taskQueue)}" — see \`orchestrate schedule list\``,
              EXIT.usage,
            );
          throw e;
        } finally {
          await connection.close();
        }
      });
  }

  // Command modules (one concern each): src/cli/<name>.ts exports register<Name>Commands(program).
  registerStatusCommands(program);
  registerLogsCommands(program);
  registerHistoryCommands(program);
  registerCostsCommands(program);
  registerInitCommands(program);
  registerSessionCommands(program);
  registerCancelCommands(program);

  program.addOption(new Option('--no-color', 'plain output').hideHelp());
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version exit 0; usage errors were already printed by commander.
      return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (e instanceof ConfigError || e instanceof UserError) {
      process.stderr.write(`${e.message}\n`);
      return e instanceof UserError ? e.exitCode : EXIT.usage;
    }
    process.stderr.write(`error: ${(e as Error).message}\n`);
    return EXIT.failed;
  }
}

if (require.main === module) {
  // Exit once stdout has drained: a piped --json result must never be cut short.
  void main(process.argv).then((code) => process.stdout.write('', () => process.exit(code)));
}
