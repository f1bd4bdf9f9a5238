// `orchestrate sessions list|reap`: the persistent tmux sessions on the orchestrator's socket.
import type { Command } from 'commander';
import { jobRunningCheck, listSessions, reapSessions, type SessionInfo } from '../persistent/sessions';
import { connectClient, type Connected } from '../temporal/client';
import type { Config } from '../config';
import { EXIT, UserError, getConfig, print } from './common';
import { renderTable } from './table';

/** 93784000 → "1d2h", 3720000 → "1h2m", 45000 → "45s": the two largest units. */
export function formatAge(ms: number): string {
  const units: Array<[string, number]> = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ];
  const parts: string[] = [];
  let rest = Math.max(0, Math.floor(ms));
  for (const [unit, size] of units) {
    const n = Math.floor(rest / size);
    if (n > 0 || (parts.length === 0 && unit === 's')) parts.push(`${n}${unit}`);
    rest -= n * size;
    if (parts.length === 2) break;
  }
  return parts.join('');
}

function status(s: SessionInfo): string {
  if (!s.own) return 'not ours';
  if (s.inUse === null) return 'unknown';
  return s.inUse ? 'in use' : 'idle';
}

function note(s: SessionInfo): string {
  if (!s.own) return `${s.foreign}: never touched`;
  const bits = [s.persistent ? 'persistent' : 'stale: not in orchestrator.persistent'];
  if (s.inUse) bits.push(`job ${s.jobWorkflowId} running`);
  if (s.inUse === null) bits.push('Temporal not reachable');
  if (!s.persistent && s.inUse === false && s.attached === 0) bits.push('`orchestrate sessions reap` kills it');
  return bits.join('; ');
}

async function tryConnect(config: Config): Promise<{ connected: Connected | null; error: string | null }> {
  try {
    return { connected: await connectClient(config), error: null };
  } catch (e) {
    return { connected: null, error: (e as Error).message };
  }
}

export function registerSessionCommands(program: Command): void {
  const sessions = program
    .command('sessions')
    .description('the persistent tmux sessions (projects in orchestrator.persistent), on their own tmux socket');

  sessions
    .command('list')
    .description('each session with its project, age, and whether a job is using it')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const config = await getConfig(cmd);
      // Temporal is asked (which jobs run) only when there is a session of ours to ask about.
      const mine = (await listSessions(config)).sessions.some((s) => s.own);
      const { connected, error } = mine ? await tryConnect(config) : { connected: null, error: null };
      try {
        const list = await listSessions(config, connected ? jobRunningCheck(connected.client) : undefined);
        if (opts.json) {
          print(JSON.stringify({ ...list, temporalError: error }));
          return;
        }
        const { socket, prefix } = list;
        if (list.tmuxMissing) {
          print('tmux is not installed on this host, so there are no persistent sessions.');
          return;
        }
        if (list.sessions.length === 0) {
          const persistent = config.orchestrator.persistent;
          print(
            `no sessions on tmux socket "${socket}"` +
              (persistent.length
                ? ` (persistent projects: ${persistent.join(', ')}; their sessions start with their first job)`
                : ' (no project is in orchestrator.persistent)'),
          );
          return;
        }
        print(
          renderTable(
            ['SESSION', 'PROJECT', 'AGE', 'STATUS', 'ATTACHED', 'NOTE'],
            list.sessions.map((s) => [
              s.session,
              s.project ?? '-',
              formatAge(s.ageMs),
              status(s),
              String(s.attached),
              note(s),
            ]),
          ),
        );
        print('');
        print(
          `tmux socket "${socket}", sessions named ${prefix}<project>. Watch one: tmux -L ${socket} attach -t <session>`,
        );
        if (error) print(`note: cannot tell which sessions are in use: ${error}`);
      } finally {
        await connected?.connection.close();
      }
    });

  sessions
    .command('reap')
    .description(
      'kill the sessions orchestrate made for projects no longer in orchestrator.persistent, unless a job uses them',
    )
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const config = await getConfig(cmd);
      const before = await listSessions(config);
      if (!before.sessions.some((s) => s.stale)) {
        // Nothing that could be reaped: no need to ask Temporal anything.
        const report = await reapSessions(config, async () => true);
        print(
          opts.json ? JSON.stringify(report) : (report.note ?? `nothing to reap on tmux socket "${report.socket}"`),
        );
        return;
      }
      const { connected, error } = await tryConnect(config);
      if (!connected) {
        throw new UserError(
          `not reaping: cannot tell which sessions a running job uses — ${error ?? 'Temporal is not reachable'}`,
          EXIT.failed,
        );
      }
      try {
        const report = await reapSessions(config, jobRunningCheck(connected.client));
        if (opts.json) {
          print(JSON.stringify(report));
          return;
        }
        if (report.note) print(report.note);
        for (const k of report.killed) print(`killed ${k.session} (${k.reason})`);
        for (const k of report.kept) print(`kept   ${k.session} (${k.reason})`);
        if (!report.note && report.killed.length === 0) print(`nothing to reap on tmux socket "${report.socket}"`);
      } finally {
        await connected.connection.close();
      }
    });
}
