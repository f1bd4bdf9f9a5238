// The persistent-session activities: the stale-session reaper (the cycle runs it first) and the session list.
import { Context } from '@temporalio/activity';
import { loadConfigOrFail } from './agentJob';
import { jobRunningCheck, listSessions, reapSessions, type ReapReport, type SessionList } from '../persistent/sessions';

export function createSessionActivities(deps: { configPath?: string }) {
  /** The reaper, as an activity (the cycle runs it first). */
  async function reapStaleSessions(): Promise<ReapReport> {
    const config = await loadConfigOrFail(deps.configPath);
    return reapSessions(config, jobRunningCheck(Context.current().client));
  }

  async function listSessionsActivity(): Promise<SessionList> {
    const config = await loadConfigOrFail(deps.configPath);
    return listSessions(config, jobRunningCheck(Context.current().client));
  }

  return { reapStaleSessions, listSessions: listSessionsActivity };
}
