// `orchestrate run -p <project>`: one agent job in the project's folder; waits and prints its result unless
// --no-wait. The exit code is the job's (see exitCodeFor).
import type { Command } from 'commander';
import { uiWorkflowUrl } from '../../temporal/ui';
import { AlreadyRunningError, jobResult, startJob } from '../../temporal/client';
import { webUiUrl } from '../../temporal/connection';
import { taskQueueFor } from '../../temporal/ids';
import type { JobResult } from '../../temporal/types';
import { getConfig, print, requireProject, withClient } from '../common';
import { EXIT, UserError, exitCodeFor } from '../errors';
import { formatJobResult, jobResultJson } from '../render/job';
import { Progress } from '../render/progress';
import { promptTextProblem } from '../../runner/invocation';
import { watchForWorker } from '../workerWatch';

interface RunOpts {
  project: string;
  prompt?: string;
  wait: boolean;
  attach?: boolean;
  json?: boolean;
}

/** Why a second `run` is refused, with the command that follows the running job instead. */
export function alreadyRunningHint(workflowId: string, project: string): string {
  return `already running: ${workflowId} — follow it with \`orchestrate run -p ${project} --attach\`, or see \`orchestrate status\``;
}

export async function run(opts: RunOpts, cmd: Command): Promise<number> {
  const config = await getConfig(cmd);
  requireProject(config, opts.project);
  const badPrompt = promptTextProblem(opts.prompt, '--prompt');
  if (badPrompt) throw new UserError(badPrompt);
  return withClient(config, async ({ client }) => {
    let started;
    try {
      started = await startJob(
        client,
        config,
        { project: opts.project, kind: 'run', prompt: opts.prompt },
        { attach: opts.attach },
      );
    } catch (e) {
      if (e instanceof AlreadyRunningError)
        throw new UserError(alreadyRunningHint(e.workflowId, opts.project), EXIT.alreadyRunning);
      throw e;
    }
    const { handle, attached } = started;
    const runId = (await handle.describe()).runId;
    const link = uiWorkflowUrl(webUiUrl(config), client.options.namespace, handle.workflowId, runId);
    if (!opts.wait) {
      if (opts.json)
        print(JSON.stringify({ workflowId: handle.workflowId, runId, project: opts.project, webUrl: link }));
      else print(`started ${handle.workflowId} (run ${runId})\nweb: ${link}`);
      return EXIT.ok;
    }
    const host = config.projects[opts.project].host;
    const progress = new Progress(process.stderr, !opts.json);
    progress.start(`${attached ? 'following' : 'running'} ${handle.workflowId}`);
    const stopWatching = watchForWorker({
      client,
      namespace: client.options.namespace,
      taskQueue: taskQueueFor(config.orchestrator.taskQueue, host),
      host,
      then: 'the job is kept and goes on when one does',
      write: (line) => progress.note(line),
    });
    let result: JobResult;
    try {
      result = await jobResult(handle, opts.project);
    } finally {
      stopWatching();
      progress.stop();
    }
    print(opts.json ? jobResultJson(result, link) : formatJobResult(result, link));
    return exitCodeFor(result);
  });
}
