// From the checked file to a Config: camelCase, every default applied, relative paths anchored at the config's
// folder, and every project's agent and gates settings merged over the file's [agent] and [gates].
import * as os from 'os';
import * as path from 'path';
import {
  AGENT_DEFAULTS,
  DEFAULT_PROJECT_PROMPT,
  EOD_DEFAULTS,
  GATES_DEFAULTS,
  ORCHESTRATOR_DEFAULTS,
  ROLLOVER_DEFAULTS,
  SCHEDULES_DEFAULTS,
  SERVER_DEFAULTS,
} from './defaults';
import { ConfigError, formatPath } from './errors';
import { systemTimeZone } from '../lib/systemTimeZone';
import { DEFAULT_INTERACTIVE_COMMAND, DEFAULT_PROFILE, profileDefaults } from './profileDefaults';
import type { AgentOverrides, ConfigFile, GatesOverrides } from './schema';
import type {
  AgentConfig,
  Config,
  ConfigProblem,
  GatesConfig,
  OrchestratorConfig,
  OutputFormat,
  ProjectConfig,
} from './types';

/** Replaces a leading `~` (alone or followed by a path separator) with the user's home folder. */
export function expandHome(p: string): string {
  if (p === '~') return os.homedir();
  if (p.startsWith('~/') || p.startsWith(`~${path.sep}`)) return path.join(os.homedir(), p.slice(2));
  return p;
}

/** An [agent] table's settings before the profile's defaults fill in command and args (null = not set). */
interface PartialAgent extends Omit<AgentConfig, 'command' | 'args' | 'outputFormat' | 'resume'> {
  command: string | null;
  /** null: the profile's default (on for claude, whose CLI can resume a session). */
  resume: boolean | null;
  args: string[] | null;
  outputFormat: OutputFormat | null;
}

const BASE_AGENT: PartialAgent = {
  profile: DEFAULT_PROFILE,
  command: null,
  args: null,
  timeoutMs: AGENT_DEFAULTS.timeoutMs,
  exitGraceMs: AGENT_DEFAULTS.exitGraceMs,
  stallTimeoutMs: AGENT_DEFAULTS.stallTimeoutMs,
  outputFormat: null,
  interactiveCommand: DEFAULT_INTERACTIVE_COMMAND,
  env: {},
  envAllow: null,
  allowPermissionDenials: false,
  account: null,
  resume: null,
};

/**
 * Merges a table over its base. command, args and output_format set explicitly belong to the profile they were
 * set with: a project that switches to another profile gets that profile's defaults, not [agent]'s explicit ones.
 */
function mergeAgent(base: PartialAgent, o: AgentOverrides | undefined): PartialAgent {
  const profile = o?.profile ?? base.profile;
  const inherit = profile === base.profile;
  return {
    profile,
    command: o?.command ?? (inherit ? base.command : null),
    args: o?.args ? [...o.args] : inherit && base.args ? [...base.args] : null,
    timeoutMs: o?.timeout ?? base.timeoutMs,
    exitGraceMs: o?.exit_grace ?? base.exitGraceMs,
    stallTimeoutMs: o?.stall_timeout !== undefined ? o.stall_timeout : base.stallTimeoutMs,
    outputFormat: o?.output_format ?? (inherit ? base.outputFormat : null),
    interactiveCommand: o?.interactive_command ?? base.interactiveCommand,
    env: { ...base.env, ...(o?.env ?? {}) },
    envAllow: o?.env_allow ? [...o.env_allow] : base.envAllow,
    allowPermissionDenials: o?.allow_permission_denials ?? base.allowPermissionDenials,
    account: o?.account ?? base.account,
    resume: o?.resume ?? base.resume,
  };
}

/** Fills in the profile's defaults; null (with the problem recorded) when a custom profile lacks command or args. */
function resolveAgent(a: PartialAgent, at: (string | number)[], problems: ConfigProblem[]): AgentConfig | null {
  const defaults = profileDefaults(a.profile);
  const missing = [a.command === null && !defaults ? 'command' : '', a.args === null && !defaults ? 'args' : '']
    .filter(Boolean)
    .join(' and ');
  if (missing !== '') {
    problems.push({
      path: formatPath([...at, 'profile']),
      message: `profile "custom" needs ${missing} set too, e.g. command = "my-agent" and args = ["--prompt", "{prompt}"] (or use profile "claude", "codex" or "gemini")`,
    });
    return null;
  }
  return {
    ...a,
    command: a.command ?? defaults?.command ?? '',
    args: [...(a.args ?? defaults?.args ?? [])],
    outputFormat: a.outputFormat ?? AGENT_DEFAULTS.outputFormat,
    env: { ...a.env },
    envAllow: a.envAllow ? [...a.envAllow] : null,
    resume: a.resume ?? a.profile === 'claude',
  };
}

/**
 * Each project's agent, resolved over [agent]. A custom profile without command/args is reported once, where it
 * is set: under [agent] when a project inherits it, under the project when the project sets its own.
 */
function agentResolver(
  fileAgent: AgentOverrides | undefined,
  problems: ConfigProblem[],
): (name: string, o: AgentOverrides | undefined) => AgentConfig {
  const agent = mergeAgent(BASE_AGENT, fileAgent);
  const agentOk = resolveAgent(agent, ['agent'], problems) !== null;
  return (name, o) => {
    const own = o?.profile !== undefined || o?.command !== undefined || o?.args !== undefined;
    const sink = agentOk || own ? problems : [];
    const merged = mergeAgent(agent, o);
    return (
      resolveAgent(merged, ['projects', name, 'agent'], sink) ?? {
        ...merged,
        command: '',
        args: [],
        outputFormat: 'auto',
        resume: false,
      }
    );
  };
}

function mergeGates(base: GatesConfig, o: GatesOverrides | undefined): GatesConfig {
  return {
    command: o?.command ?? base.command,
    timeoutMs: o?.timeout ?? base.timeoutMs,
    workingHours: o?.working_hours !== undefined ? o.working_hours : base.workingHours,
    maxDailyUsd: o?.max_daily_usd ?? base.maxDailyUsd,
  };
}

function emptyToNull(s: string | undefined): string | null {
  return s === undefined || s.trim() === '' ? null : s;
}

function resolveOrchestrator(o: ConfigFile['orchestrator'], resolvePath: (p: string) => string): OrchestratorConfig {
  const d = ORCHESTRATOR_DEFAULTS;
  return {
    taskQueue: o?.task_queue ?? d.taskQueue,
    stateDir: resolvePath(o?.state_dir ?? d.stateDir),
    timezone: o?.timezone ?? systemTimeZone(),
    concurrency: o?.concurrency ?? d.concurrency,
    persistent: [...new Set(o?.persistent ?? [])],
    killGraceMs: o?.kill_grace ?? d.killGraceMs,
    onShutdown: o?.on_shutdown ?? d.onShutdown,
    heartbeatTimeoutMs: o?.heartbeat_timeout ?? d.heartbeatTimeoutMs,
    hostWaitMs: o?.host_wait ?? d.hostWaitMs,
    usageLimitMarginMs: o?.usage_limit_margin ?? d.usageLimitMarginMs,
    usageLimitBackoffMs: o?.usage_limit_backoff ?? d.usageLimitBackoffMs,
    transientBackoffMs: o?.transient_backoff,
    host: emptyToNull(o?.host),
    tmuxSocket: o?.tmux_socket ?? d.tmuxSocket,
    sessionPrefix: o?.session_prefix ?? d.sessionPrefix,
    idleSeconds: o?.idle_seconds ?? d.idleSeconds,
  };
}

/** Every project with the file-wide settings filled in; agent problems go to `problems`. */
function resolveProjects(
  d: ConfigFile,
  top: Pick<Config, 'eod' | 'rollover'> & { persistent: string[] },
  resolvePath: (p: string) => string,
  problems: ConfigProblem[],
): Record<string, ProjectConfig> {
  const resolveProjectAgent = agentResolver(d.agent, problems);
  const gates = mergeGates(GATES_DEFAULTS, d.gates);
  const projects: Record<string, ProjectConfig> = {};
  for (const [name, p] of Object.entries(d.projects ?? {})) {
    projects[name] = {
      name,
      path: resolvePath(p.path),
      prompt: p.prompt ?? DEFAULT_PROJECT_PROMPT,
      enabled: p.enabled ?? true,
      host: emptyToNull(p.host),
      worklogPath: p.worklog_path ?? top.eod.worklogPath,
      eodPrompt: p.eod_prompt ?? top.eod.prompt,
      rolloverPrompt: p.rollover_prompt ?? top.rollover.prompt,
      inlineSkills: Array.isArray(p.inline_skills) ? [...p.inline_skills] : (p.inline_skills ?? false),
      agent: resolveProjectAgent(name, p.agent),
      gates: mergeGates(gates, p.gates),
      persistent: top.persistent.includes(name),
    };
  }
  return projects;
}

/** The Config of a checked file at `absPath`. Throws a ConfigError for a custom agent profile that is incomplete. */
export function resolveConfig(d: ConfigFile, absPath: string): Config {
  const baseDir = path.dirname(absPath);
  const resolvePath = (p: string): string => path.resolve(baseDir, expandHome(p));
  const orchestrator = resolveOrchestrator(d.orchestrator, resolvePath);
  const eod = {
    prompt: d.eod?.prompt ?? EOD_DEFAULTS.prompt,
    worklogPath: d.eod?.worklog_path ?? EOD_DEFAULTS.worklogPath,
  };
  const rollover = {
    prompt: d.rollover?.prompt ?? ROLLOVER_DEFAULTS.prompt,
    monthPrompt: d.rollover?.month_prompt ?? ROLLOVER_DEFAULTS.monthPrompt,
  };
  const agentProblems: ConfigProblem[] = [];
  const top = { eod, rollover, persistent: orchestrator.persistent };
  const projects = resolveProjects(d, top, resolvePath, agentProblems);
  if (agentProblems.length > 0) throw new ConfigError(absPath, agentProblems);
  const s = d.schedules;
  return {
    configPath: absPath,
    orchestrator,
    server: {
      ip: d.server?.ip ?? SERVER_DEFAULTS.ip,
      port: d.server?.port ?? SERVER_DEFAULTS.port,
      uiPort: d.server?.ui_port ?? SERVER_DEFAULTS.uiPort,
      namespace: d.server?.namespace ?? SERVER_DEFAULTS.namespace,
    },
    schedules: {
      eod: s?.eod !== undefined ? s.eod : SCHEDULES_DEFAULTS.eod,
      rollover: s?.rollover !== undefined ? s.rollover : SCHEDULES_DEFAULTS.rollover,
      cycleEveryMs: s?.cycle_every ?? null,
      catchupWindowMs: s?.catchup_window ?? SCHEDULES_DEFAULTS.catchupWindowMs,
    },
    eod,
    rollover,
    notify: { command: emptyToNull(d.notify?.command) },
    projects,
  };
}
