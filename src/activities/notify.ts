// The notification hook as an activity, for workflows (a workflow cannot run a shell command itself):
// e.g. `await sendNotification({ type: 'usage_limit_wait', project, until })` before a usage-limit wait.
import { Context } from '@temporalio/activity';
import { notify, type NotifyEvent } from '../lib/notify';
import { loadConfigOrFail } from './agentJob';

export function createNotifyActivities(deps: { configPath?: string }) {
  /** Runs `[notify] command` with the event; true when it ran and succeeded (or none is configured). */
  async function sendNotification(event: NotifyEvent): Promise<boolean> {
    const config = await loadConfigOrFail(deps.configPath);
    const r = await notify(config, event, { log: (m) => Context.current().log.warn(m) });
    return r.ok;
  }
  return { sendNotification };
}
