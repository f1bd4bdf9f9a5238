// How a job's agent is invoked: its argv, its environment, and the folder its runs are kept in.
import path from 'node:path';
import type { Config, ProjectConfig } from '../config';
import type { JobPlan } from '../temporal/types';

/** Substitutes `{prompt}` inside each argument; the prompt stays one argv entry, never shell-parsed. */
export function buildArgs(args: string[], prompt: string): string[] {
  return args.map((a) => a.split('{prompt}').join(prompt));
}

/** <state_dir>/runs/<project>/<runKey>: one folder per workflow run and agent invocation. */
export function runBaseDir(
  config: { orchestrator: Pick<Config['orchestrator'], 'stateDir'> },
  plan: Pick<JobPlan, 'project'>,
  runKey: string,
): string {
  return path.join(config.orchestrator.stateDir, 'runs', plan.project, runKey);
}

/** The agent's own environment: the project's [agent] env, and where it runs for whom. */
export function agentEnv(
  project: ProjectConfig,
  plan: Pick<JobPlan, 'project' | 'kind'>,
  baseDir: string,
  workflowId: string,
): Record<string, string> {
  return {
    ...project.agent.env,
    ORCHESTRATE_PROJECT: plan.project,
    ORCHESTRATE_JOB_KIND: plan.kind,
    ORCHESTRATE_RUN_DIR: baseDir,
    ORCHESTRATE_WORKFLOW_ID: workflowId,
  };
}
