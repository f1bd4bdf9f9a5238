// The shape of a loaded workspaces.toml: camelCase, every default applied, every project's agent/gates settings
// fully merged. The closed sets of values (profiles, output formats, shutdown modes) are listed once here and
// both the types and the schema are read off them.

import { AGENT_PROFILES, type AgentProfile } from '../agents/profiles';

export { AGENT_PROFILES, type AgentProfile };
export const OUTPUT_FORMATS = ['auto', 'json', 'stream-json', 'text'] as const;
export const ON_SHUTDOWN_MODES = ['detach', 'kill'] as const;
/** Project names become workflow IDs and tmux session names. */
export const PROJECT_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export type OutputFormat = (typeof OUTPUT_FORMATS)[number];
export type OnShutdown = (typeof ON_SHUTDOWN_MODES)[number];

export interface AgentConfig {
  profile: AgentProfile;
  command: string;
  args: string[];
  timeoutMs: number;
  /**
   * How long an agent that printed its complete result gets to exit on its own before its processes are stopped
   * (something it started, an MCP server or a background shell, may keep it alive); 0: stopped at once.
   */
  exitGraceMs: number;
  /** No output from the agent for this long stops the job as `stalled`; null = never. */
  stallTimeoutMs: number | null;
  outputFormat: OutputFormat;
  interactiveCommand: string;
  /** Extra environment for the agent process. Never log these values. */
  env: Record<string, string>;
  /** When set, only these variables of the worker's environment reach the agent (plus `env`). */
  envAllow: string[] | null;
  /** A run whose tool uses were refused (permission_denials) still counts as a success. */
  allowPermissionDenials: boolean;
  /**
   * Names the agent account whose usage limit and login the project shares; null: derived from the profile and
   * the credential variables (names and a hash of their values).
   */
  account: string | null;
  /** After a usage-limit wait or a transient API error, continue the earlier run's session (claude only). */
  resume: boolean;
}

export interface GatesConfig {
  /** "Is there work" shell command run in the project folder; "" = no command gate. */
  command: string;
  timeoutMs: number;
  /** In the orchestrator's timezone; may wrap midnight (start > end). null = always. */
  workingHours: { start: string; end: string } | null;
  /** 0 = no budget gate. */
  maxDailyUsd: number;
}

export interface ProjectConfig {
  name: string;
  /** Absolute path of the project folder (not checked to exist here). */
  path: string;
  prompt: string;
  enabled: boolean;
  host: string | null;
  /** Relative to the project folder; may contain {date}. */
  worklogPath: string;
  eodPrompt: string;
  rolloverPrompt: string;
  inlineSkills: boolean | string[];
  agent: AgentConfig;
  gates: GatesConfig;
  persistent: boolean;
}

export interface OrchestratorConfig {
  taskQueue: string;
  stateDir: string;
  timezone: string;
  concurrency: number;
  persistent: string[];
  killGraceMs: number;
  onShutdown: OnShutdown;
  /** A worker that stops heartbeating for this long is presumed dead; the job moves to another worker. */
  heartbeatTimeoutMs: number;
  /** A cycle waits this long for a host's worker to pick up its gates before skipping that host's projects. */
  hostWaitMs: number;
  /** Usage limit: wait this long past the announced reset before retrying. */
  usageLimitMarginMs: number;
  /** Usage limit without a parseable reset time: wait this long. */
  usageLimitBackoffMs: number;
  /** First wait before running a job again after a transient API error (doubles each time); unset: 1 minute. */
  transientBackoffMs?: number;
  host: string | null;
  /** tmux server socket (`tmux -L <name>`) holding the persistent sessions. */
  tmuxSocket: string;
  /** Persistent sessions are named `<prefix><project>`; the reaper only looks at names with this prefix. */
  sessionPrefix: string;
  /** Persistent sessions without a Stop hook: done once the pane is quiet at its idle prompt this long. */
  idleSeconds: number;
}

export interface Config {
  /** Absolute path of the file this config came from. */
  configPath: string;
  orchestrator: OrchestratorConfig;
  server: { ip: string; port: number; uiPort: number; namespace: string };
  schedules: { eod: string | null; rollover: string | null; cycleEveryMs: number | null; catchupWindowMs: number };
  eod: { prompt: string; worklogPath: string };
  rollover: { prompt: string; monthPrompt: string };
  notify: { command: string | null };
  projects: Record<string, ProjectConfig>;
}

export interface ConfigProblem {
  /** Dotted key path, e.g. `projects.authexis.agent.timeout`; "" for whole-file problems. */
  path: string;
  message: string;
}
