// `orchestrate sessions list|reap`: the persistent tmux sessions on the orchestrator's socket.
import type { Command } from 'commander';
import { formatElapsed } from '../../lib/duration';
import { jobRunningCheck, listSessions, reapSessions, type SessionInfo } from '../../persistent/sessions';
import { getConfig, print, tryConnect } from '../common';
import { EXIT, UserError } from '../errors';
import { renderTable } from '../render/table';

/** 93784000 → "1d2h", 3720000 → "1h2m", 45000 → "45s": a session's age, the two largest units. */
export const formatAge = (ms: number): string => formatElapsed(ms, { days: true, pad: false });

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

export async function sessionsList(opts: { json?: boolean }, cmd: Command): Promise<void> {
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
}

export async function sessionsReap(opts: { json?: boolean }, cmd: Command): Promise<void> {
  const config = await getConfig(cmd);
  const before = await listSessions(config);
  if (!before.sessions.some((s) => s.stale)) {
    // Nothing that could be reaped: no need to ask Temporal anything.
    const report = await reapSessions(config, async () => true);
    print(opts.json ? JSON.stringify(report) : (report.note ?? `nothing to reap on tmux socket "${report.socket}"`));
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
}
