// `orchestrate schedule apply|list|pause|unpause|trigger|delete`: the schedules the Temporal server runs.
import type { Command } from 'commander';
import { ScheduleNotFoundError } from '@temporalio/client';
import {
  applySchedules,
  describeSchedules,
  plannedSchedules,
  scheduleIdFor,
  temporalCliCommand,
  type ScheduleRow,
} from '../../temporal/schedules';
import { getConfig, print, withClient } from '../common';
import { EXIT, UserError } from '../errors';
import { renderTable } from '../render/table';
import { formatWhen } from '../render/format';

export async function scheduleApply(opts: { printTemporalCli?: boolean }, cmd: Command): Promise<void> {
  const config = await getConfig(cmd);
  if (opts.printTemporalCli) {
    for (const s of plannedSchedules(config)) print(temporalCliCommand(config, s) + '\n');
    return;
  }
  await withClient(config, async ({ client }) => {
    const r = await applySchedules(client, config);
    for (const id of r.created) print(`created ${id}`);
    for (const id of r.updated) print(`updated ${id}`);
    for (const id of r.deleted) print(`deleted ${id} (no longer in config)`);
  });
}

export async function scheduleList(opts: { json?: boolean }, cmd: Command): Promise<void> {
  const config = await getConfig(cmd, { allowMissing: true });
  await withClient(config, async ({ client }) => {
    const rows = await describeSchedules(client, config.orchestrator.taskQueue);
    if (opts.json) print(JSON.stringify(rows));
    else if (!rows.length) print('no schedules (run `orchestrate schedule apply`)');
    else print(renderScheduleList(rows, config.orchestrator.timezone));
  });
}

/** The schedules as a table; next runs in the configured timezone, as `status` shows them. */
export function renderScheduleList(rows: ScheduleRow[], timezone: string): string {
  return renderTable(
    ['SCHEDULE', 'STATE', 'WHEN', `NEXT RUNS (${timezone})`],
    rows.map((r) => [
      r.id,
      r.paused ? 'paused' : 'active',
      r.description,
      r.nextRuns
        .slice(0, 2)
        .map((t) => formatWhen(t, timezone))
        .join(', '),
    ]),
  );
}

export function scheduleAction(action: 'pause' | 'unpause' | 'trigger' | 'delete') {
  return async (name: string, _opts: unknown, cmd: Command): Promise<void> => {
    const config = await getConfig(cmd, { allowMissing: true });
    const scheduleId = scheduleIdFor(name, config.orchestrator.taskQueue);
    await withClient(config, async ({ client }) => {
      const handle = client.schedule.getHandle(scheduleId);
      try {
        if (action === 'pause') await handle.pause('paused from the orchestrate CLI');
        else if (action === 'unpause') await handle.unpause('unpaused from the orchestrate CLI');
        else if (action === 'trigger') await handle.trigger();
        else await handle.delete();
      } catch (e) {
        if (e instanceof ScheduleNotFoundError)
          throw new UserError(`no schedule "${scheduleId}" — see \`orchestrate schedule list\``, EXIT.usage);
        throw e;
      }
      print(`${action}${action.endsWith('e') ? 'd' : 'ed'} ${handle.scheduleId}`);
    });
  };
}
