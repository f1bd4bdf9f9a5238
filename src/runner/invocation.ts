// How a job's agent is invoked: its argv, how its prompt reaches it, its environment, and the folder its runs
// are kept in.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import type { AgentConfig, Config, ProjectConfig } from '../config';
import { PROFILES } from '../agents/profiles';
import { makeScrubber, secretValues, type Scrubber } from '../lib/scrub';
import { configError } from '../temporal/failures';
import type { JobPlan } from '../temporal/types';
import { runFolderFailure, type RunFolderOwner } from './runFolder';

/** Linux's limit on one argument (MAX_ARG_STRLEN, 32 pages of 4 KB), its terminating NUL included. */
export const MAX_ARG_BYTES = 128 * 1024;
/** The prompt the agent reads on stdin, in the job's run folder (written once, before the first launch). */
export const PROMPT_FILE = 'prompt.txt';

/** Substitutes `{prompt}` inside each argument; the prompt stays one argv entry, never shell-parsed. */
export function buildArgs(args: string[], prompt: string): string[] {
  return args.map((a) => a.split('{prompt}').join(prompt));
}

/** How the prompt reaches the agent: in its argv, or on stdin (the args then leave `{prompt}` out). */
export interface PromptDelivery {
  args: string[];
  viaStdin: boolean;
}

const WHERE_PROMPTS_COME_FROM =
  'the --prompt of `orchestrate run`, or [projects.<name>] prompt / eod_prompt / rollover_prompt and the inline_skills added to it';

/**
 * The argv for `prompt`. A prompt no argument can carry (over MAX_ARG_BYTES, or with a NUL byte) goes on stdin
 * when the agent's profile reads it there; otherwise it is a config error that names the limit and the fix.
 */
export function promptDelivery(project: ProjectConfig, prompt: string): PromptDelivery {
  const args = buildArgs(project.agent.args, prompt);
  const hasNul = prompt.includes('\0');
  const tooLong = args.some((a) => Buffer.byteLength(a) >= MAX_ARG_BYTES);
  if (!hasNul && !tooLong) return { args, viaStdin: false };
  const { name } = project;
  const { profile } = project.agent;
  const why = hasNul
    ? 'holds a NUL byte, which no command-line argument can carry'
    : `is ${Math.ceil(Buffer.byteLength(prompt) / 1024)} KB, over Linux's limit of ${MAX_ARG_BYTES / 1024} KB for one command-line argument`;
  if (!PROFILES[profile].promptViaStdin) {
    const fix = hasNul ? 'remove the NUL byte from it' : `shorten it to under ${MAX_ARG_BYTES / 1024} KB`;
    throw configError(
      `${name}: the prompt ${why}, and the "${profile}" agent profile cannot read its prompt from stdin — ${fix} (${WHERE_PROMPTS_COME_FROM}), or use [agent] profile = "claude", which reads a prompt of any size from stdin`,
    );
  }
  const carriers = project.agent.args.filter((a) => a.includes('{prompt}'));
  if (carriers.length !== 1 || carriers[0] !== '{prompt}') {
    throw configError(
      `${name}: the prompt ${why}; it can go to the agent on stdin only when "{prompt}" is one whole argument of [agent] args (or [projects.${name}.agent] args), used once — e.g. ["-p", "{prompt}", "--output-format", "json"]`,
    );
  }
  return { args: project.agent.args.filter((a) => a !== '{prompt}'), viaStdin: true };
}

/** The agent's argv, and the file its stdin reads the prompt from when the prompt goes there. */
export async function agentInvocation(
  o: RunFolderOwner & { project: ProjectConfig; plan: Pick<JobPlan, 'project' | 'prompt'> },
  baseDir: string,
  resumeSessionId?: string,
): Promise<{ args: string[]; stdinPath: string | null }> {
  // A resumed session is given the short continuation prompt: the task's prompt is in its conversation already.
  if (resumeSessionId && canResume(o.project.agent))
    return { args: invocationArgs(o.project.agent, o.plan.prompt, resumeSessionId), stdinPath: null };
  const { args, viaStdin } = promptDelivery(o.project, o.plan.prompt);
  if (!viaStdin) return { args, stdinPath: null };
  const file = path.join(baseDir, PROMPT_FILE);
  // Written atomically by an earlier attempt of this run: an adopting attempt writes nothing.
  if (existsSync(file)) return { args, stdinPath: file };
  try {
    await fs.mkdir(baseDir, { recursive: true });
    await fs.writeFile(`${file}.tmp`, o.plan.prompt, { mode: 0o600 });
    await fs.rename(`${file}.tmp`, file);
  } catch (e) {
    throw runFolderFailure(o, 'write the prompt to', file, e);
  }
  return { args, stdinPath: file };
}

/** Why a prompt given on the command line cannot be used as it is; null when it can. */
export function promptTextProblem(text: string | undefined, flag: string): string | null {
  if (text === undefined || !text.includes('\uFFFD')) return null;
  // The OS hands arguments over as bytes; bytes that are not UTF-8 arrive here as U+FFFD and would be sent on
  // silently changed.
  return `${flag} holds bytes that are not valid UTF-8 (or the replacement character U+FFFD); the agent would get a different prompt — pass it as UTF-8 text`;
}

/** What a resumed session is told: the task is in its conversation already. */
export const CONTINUATION_PROMPT =
  'Continue the task you were working on in this session, from where you stopped. When it is done, give your final answer as before.';

/**
 * The agent's argv for one run: the task's prompt, or, resuming a claude session, `--resume <id>` and the
 * continuation prompt in its place.
 */
export function invocationArgs(
  agent: Pick<AgentConfig, 'profile' | 'args'>,
  prompt: string,
  resumeSessionId?: string,
): string[] {
  if (!resumeSessionId || !canResume(agent)) return buildArgs(agent.args, prompt);
  return ['--resume', resumeSessionId, ...buildArgs(agent.args, CONTINUATION_PROMPT)];
}

/** Only the claude profile continues a session (`--resume <id>`). */
function canResume(agent: Pick<AgentConfig, 'profile'>): boolean {
  return agent.profile === 'claude';
}

/**
 * How a relaunch after a crash or a stall continues the earlier launch's session, when the job resumes sessions
 * (its plan says so: `[agent] resume`) and its profile can; undefined: the relaunch starts the task over.
 */
export function crashResumeArgs(
  agent: Pick<AgentConfig, 'profile' | 'args'>,
  plan: Pick<JobPlan, 'prompt' | 'resume'>,
): ((sessionId: string) => string[]) | undefined {
  if (!plan.resume || !canResume(agent)) return undefined;
  return (sessionId) => invocationArgs(agent, plan.prompt, sessionId);
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

/**
 * The scrubber for the texts about a job of `project`: the secrets among its [agent] env and the variables it
 * inherits from the worker (all of them, or only env_allow's), as the agent gets them.
 */
export function agentScrubber(project: ProjectConfig): Scrubber {
  const allow = project.agent.envAllow;
  const given = allow ? Object.fromEntries(allow.map((name) => [name, process.env[name]])) : process.env;
  return makeScrubber(secretValues(project.agent.env, given));
}
