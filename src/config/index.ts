// workspaces.toml: the registry of projects and the orchestrator's settings. Parsed with smol-toml, validated
// with zod (every problem reported at once, each with its key path), then turned into a camelCase Config with
// every default applied and every project's agent/gates settings fully merged.
import { promises as fsp } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parse as parseToml, TomlError } from 'smol-toml';
import { z } from 'zod';
import { DURATION_EXAMPLES, tryParseDuration } from '../lib/duration';

// ---------------------------------------------------------------------------------------------------------------
// Public types

export type OutputFormat = 'auto' | 'json' | 'stream-json' | 'text';
/** Which agent CLI runs the jobs: supplies the default command and args and picks the result parser. */
export type AgentProfile = 'claude' | 'codex' | 'gemini' | 'custom';
export type OnShutdown = 'detach' | 'kill';

export interface AgentConfig {
  profile: AgentProfile;
  command: string;
  args: string[];
  timeoutMs: number;
  outputFormat: OutputFormat;
  interactiveCommand: string;
  /** Extra environment for the agent process. Never log these values. */
  env: Record<string, string>;
  /** When set, only these variables of the worker's environment reach the agent (plus `env`). */
  envAllow: string[] | null;
  /** A run whose tool uses were refused (permission_denials) still counts as a success. */
  allowPermissionDenials: boolean;
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

export interface Config {
  /** Absolute path of the file this config came from. */
  configPath: string;
  orchestrator: {
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
  };
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

/** A config that cannot be used. `message` is ready to print as is (no stack trace needed). */
export class ConfigError extends Error {
  readonly problems: ConfigProblem[];
  readonly configPath: string;

  constructor(configPath: string, problems: ConfigProblem[], message?: string) {
    super(message ?? formatProblems(configPath, problems));
    this.name = 'ConfigError';
    this.configPath = configPath;
    this.problems = problems;
  }

  /**
   * The message without the excerpt of the file that a TOML syntax error shows: what goes into workflow failures
   * and logs. The excerpt may show an [agent] env line (an API key), and those must never leave the config file;
   * a person at the terminal gets the full message (it is their own file).
   */
  get messageWithoutExcerpt(): string {
    if (!this.problems.some((p) => p.message.includes('\n'))) return this.message;
    return formatProblems(
      this.configPath,
      this.problems.map((p) => ({ path: p.path, message: p.message.split('\n')[0] })),
    );
  }
}

function formatProblems(configPath: string, problems: ConfigProblem[]): string {
  const n = problems.length;
  const lines = problems.map((p) => {
    const text = p.path ? `${p.path}: ${p.message}` : p.message;
    return `  - ${text.split('\n').join('\n    ')}`;
  });
  return `${configPath} is invalid (${n} problem${n === 1 ? '' : 's'}):\n${lines.join('\n')}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Defaults

export const CONFIG_FILE_NAME = 'workspaces.toml';
export const CONFIG_ENV_VAR = 'ORCHESTRATE_CONFIG';
/** Project names become workflow IDs and tmux session names. */
export const PROJECT_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
export const OUTPUT_FORMATS = ['auto', 'json', 'stream-json', 'text'] as const;
export const AGENT_PROFILES = ['claude', 'codex', 'gemini', 'custom'] as const;
export const ON_SHUTDOWN_MODES = ['detach', 'kill'] as const;

export const DEFAULT_PROJECT_PROMPT = 'Pick the next open issue in this repository and work on it.';

export const DEFAULT_EOD_PROMPT = `End of day {date}. Write today's work log for this project to {worklog_path} (create the folder if needed; if the file already exists, update it rather than starting over).

Base it on what actually happened today: the git log since midnight, pull requests merged or opened, issues closed or opened, and any notes left by today's sessions. Use exactly these sections, as level-2 headings, in this order:

## What shipped today
## Completed
## Release progress
## Carry-over
## Risks
## Flags and watch-outs
## Next session

Keep every section short and factual, and write "None." under a section with nothing to say. "Carry-over" lists work started but not finished; "Next session" lists the first concrete things to pick up tomorrow, most important first.

Then commit the work log on its own (only that file) with the message "worklog: {date}".`;

export const DEFAULT_ROLLOVER_PROMPT = `Start of day {date}. Read yesterday's work log (the one for {yesterday}, in this project's work log folder, docs/worklog/ unless the project keeps it elsewhere).

Carry every unfinished item from its "Carry-over" section, and everything under "Next session", into today's plan: start today's work log for {date} next to yesterday's, with the carried items listed under "Next session" in priority order. Drop items that have since been done (check the git log and the issue tracker), and note anything from "Risks" or "Flags and watch-outs" that still applies.

If there is no work log for {yesterday}, use the most recent earlier one. Commit today's work log with the message "worklog: plan for {date}".`;

export const DEFAULT_MONTH_PROMPT = `It is also the first day of {month}. Close {last_month}'s release progress: in today's work log under "Release progress", write the final tally as "{last_month}: N/N closed" (items closed out of items planned for the month) and list anything unfinished that moves into {month}. Then open {month}'s release progress with its planned items and "{month}: 0/N closed".`;

const DEFAULT_AGENT_ARGS = ['-p', '{prompt}', '--output-format', 'json'];
/** What each profile runs unless command/args are set explicitly. `custom` has no defaults: both are required. */
export const PROFILE_DEFAULTS: Record<Exclude<AgentProfile, 'custom'>, { command: string; args: readonly string[] }> = {
  claude: { command: 'claude', args: DEFAULT_AGENT_ARGS },
  codex: { command: 'codex', args: ['exec', '--json', '{prompt}'] },
  gemini: { command: 'gemini', args: ['-p', '{prompt}', '--output-format', 'json'] },
};
const DEFAULTS = {
  taskQueue: 'orchestrate',
  stateDir: '~/.orchestrate',
  concurrency: 4,
  killGraceMs: 10_000,
  onShutdown: 'detach' as OnShutdown,
  tmuxSocket: 'orchestrate',
  sessionPrefix: 'orch-',
  idleSeconds: 30,
  heartbeatTimeoutMs: 30_000,
  hostWaitMs: 120_000,
  usageLimitMarginMs: 120_000,
  usageLimitBackoffMs: 30 * 60_000,
  serverIp: '127.0.0.1',
  serverPort: 7233,
  uiPort: 8233,
  namespace: 'default',
  agentTimeoutMs: 45 * 60_000,
  outputFormat: 'auto' as OutputFormat,
  interactiveCommand: 'claude',
  gateTimeoutMs: 60_000,
  eod: '23:00',
  rollover: '06:00',
  catchupWindowMs: 6 * 3_600_000,
  worklogPath: 'docs/worklog/{date}.md',
};

// ---------------------------------------------------------------------------------------------------------------
// Small helpers

/** Replaces a leading `~` (alone or followed by a path separator) with the user's home folder. */
export function expandHome(p: string): string {
  if (p === '~') return os.homedir();
  if (p.startsWith('~/') || p.startsWith(`~${path.sep}`)) return path.join(os.homedir(), p.slice(2));
  return p;
}

function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** The candidate closest to `word` (case-insensitive Levenshtein distance ≤ 3, or a prefix either way), or null. */
export function didYouMean(word: string, candidates: readonly string[]): string | null {
  const w = word.toLowerCase();
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const c = candidate.toLowerCase();
    const distance = levenshtein(w, c);
    const prefix = w.length > 0 && (c.startsWith(w) || w.startsWith(c));
    if ((distance <= 3 || prefix) && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function hint(word: string, candidates: readonly string[]): string {
  const suggestion = didYouMean(word, candidates);
  return suggestion === null ? '' : ` (did you mean ${JSON.stringify(suggestion)}?)`;
}

/** `["projects", "my app", "args", 0]` → `projects."my app".args[0]`. */
function formatPath(segments: readonly (string | number)[]): string {
  let out = '';
  for (const seg of segments) {
    if (typeof seg === 'number') {
      out += `[${seg}]`;
    } else {
      const key = /^[A-Za-z0-9_-]+$/.test(seg) ? seg : JSON.stringify(seg);
      out += out === '' ? key : `.${key}`;
    }
  }
  return out;
}

/** What a TOML value is, for "expected X, got Y". Never includes the value itself (it may be a secret). */
function describeValue(value: unknown): string {
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a float';
  if (typeof value === 'bigint') return 'an integer';
  if (typeof value === 'boolean') return 'a boolean';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return 'a date-time';
  if (value === null || value === undefined) return 'nothing';
  return 'a table';
}

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  integer: 'an integer',
  boolean: 'a boolean (true or false)',
  object: 'a table',
  array: 'an array',
};

/** "expected X, got Y" (Y names the TOML type only, never the value). */
function typeMessage(expected: string, data: unknown): string {
  if (data instanceof Date && !expected.startsWith('a table')) {
    return `expected ${expected}, got a TOML date/time (put times in quotes, e.g. "23:00")`;
  }
  return `expected ${expected}, got ${describeValue(data)}`;
}

/** Contextual map for zod's built-in issues. Messages set by our own schemas (refinements, schema error maps)
 * pass through; only zod's English defaults ("Required", "Expected string, received number") are rewritten. */
const errorMap: z.ZodErrorMap = (issue, ctx) => {
  const zodDefault = ctx.defaultError === 'Required' || ctx.defaultError.startsWith('Expected ');
  if (issue.code === z.ZodIssueCode.invalid_type && zodDefault) {
    if (issue.received === 'undefined') {
      const [top, name, key] = issue.path;
      if (issue.path.length === 3 && top === 'projects' && key === 'path') {
        return { message: `required key is missing: the project's folder, e.g. path = "~/code/${String(name)}"` };
      }
      return { message: 'required key is missing' };
    }
    return { message: typeMessage(EXPECTED[issue.expected] ?? issue.expected, ctx.data) };
  }
  return { message: ctx.defaultError };
};

/** Schema-bound error map: a custom "expected ..." for wrong types and a custom message for a missing key. */
function typeError(expected: string, missing?: string): { errorMap: z.ZodErrorMap } {
  return {
    errorMap: (issue, ctx) => {
      if (issue.code !== z.ZodIssueCode.invalid_type) return { message: ctx.defaultError };
      if (issue.received === 'undefined') return { message: missing ?? 'required key is missing' };
      return { message: typeMessage(expected, ctx.data) };
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Schema building blocks

/** A TOML table with exactly these keys (all others are reported with a did-you-mean hint). */
function table<T extends z.ZodRawShape>(shape: T) {
  const known = Object.keys(shape);
  return z.object(shape).catchall(
    z.unknown().superRefine((_value, ctx) => {
      const key = String(ctx.path[ctx.path.length - 1]);
      const suggestion = didYouMean(key, known);
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: `unknown key ${JSON.stringify(key)}${suggestion === null ? '' : ` (did you mean ${JSON.stringify(suggestion)}?)`}`,
        params: { suggestion },
      });
    }),
  );
}

const nonEmpty = z.string().refine((s) => s.trim() !== '', { message: 'must not be empty' });

function oneOf<const T extends readonly string[]>(values: T) {
  return z.string().refine(
    (v): v is T[number] => values.includes(v),
    (v) => ({
      message: `${JSON.stringify(v)} is not one of ${values.map((x) => JSON.stringify(x)).join(', ')}`,
    }),
  );
}

function intRange(min: number, max: number) {
  return z.number(typeError(`an integer from ${min} to ${max}`)).refine(
    (n) => Number.isInteger(n) && n >= min && n <= max,
    (n) => ({ message: `expected an integer from ${min} to ${max}, got ${n}` }),
  );
}

const nonNegativeNumber = z.number(typeError('a number >= 0')).refine(
  (n) => Number.isFinite(n) && n >= 0,
  (n) => ({ message: `expected a number >= 0, got ${n}` }),
);

const positiveNumber = z.number(typeError('a number > 0')).refine(
  (n) => Number.isFinite(n) && n > 0,
  (n) => ({ message: `expected a number > 0, got ${n}` }),
);

/** A tmux socket name or session-name prefix: no '/', ':' or '.', which tmux treats specially. */
function tmuxName(what: string) {
  return z.string().refine(
    (s) => /^[A-Za-z0-9_-]+$/.test(s),
    (s) => ({
      message: `${JSON.stringify(s)} is not a valid ${what} (use letters, digits, "-" and "_")`,
    }),
  );
}

const durationInput = z.union([z.string(), z.number()], {
  errorMap: (_issue, ctx) => ({
    message: typeMessage('a duration (e.g. "45m") or a whole number of seconds', ctx.data),
  }),
});

function showValue(v: string | number): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/** A duration in ms. `positive`: zero is rejected. */
function duration(positive: boolean) {
  return durationInput.transform((v, ctx) => {
    const ms = tryParseDuration(v);
    if (ms === null) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: `${showValue(v)} is not a duration (${DURATION_EXAMPLES})`,
      });
      return z.NEVER;
    }
    if (positive && ms === 0) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must be longer than zero (got ${showValue(v)})` });
      return z.NEVER;
    }
    return ms;
  });
}

/** A positive duration in ms, or "" → null (disabled). */
const optionalDuration = durationInput.transform((v, ctx): number | null => {
  if (typeof v === 'string' && v.trim() === '') return null;
  const ms = tryParseDuration(v);
  if (ms === null || ms === 0) {
    const message =
      ms === null
        ? `${showValue(v)} is not a duration (${DURATION_EXAMPLES}, or "" to disable)`
        : `must be longer than zero (got ${showValue(v)}; use "" to disable)`;
    ctx.addIssue({ code: z.ZodIssueCode.custom, message });
    return z.NEVER;
  }
  return ms;
});

/** "8:00" / "08:00" → "08:00"; null when not a 24-hour time. */
function parseTimeOfDay(text: string): string | null {
  const m = /^(\d{1,2}):(\d{2})$/.exec(text.trim());
  if (!m) return null;
  const h = Number(m[1]);
  const min = Number(m[2]);
  if (h > 23 || min > 59) return null;
  return `${String(h).padStart(2, '0')}:${m[2]}`;
}

/** "HH:MM" → "HH:MM", or "" → null (disabled). */
const timeOfDay = z.string().transform((s, ctx): string | null => {
  if (s.trim() === '') return null;
  const t = parseTimeOfDay(s);
  if (t === null) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      message: `${JSON.stringify(s)} is not a time of day (use 24-hour HH:MM, e.g. "23:00", or "" to disable)`,
    });
    return z.NEVER;
  }
  return t;
});

/** "HH:MM-HH:MM" → {start, end}, or "" → null (always). May wrap midnight. */
const workingHours = z.string().transform((s, ctx): { start: string; end: string } | null => {
  if (s.trim() === '') return null;
  const parts = s.split('-');
  const start = parts.length === 2 ? parseTimeOfDay(parts[0]) : null;
  const end = parts.length === 2 ? parseTimeOfDay(parts[1]) : null;
  if (start === null || end === null) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      message: `${JSON.stringify(s)} is not a time range (use "HH:MM-HH:MM", e.g. "08:00-20:00", or "" for always)`,
    });
    return z.NEVER;
  }
  if (start === end) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      message: `${JSON.stringify(s)} is an empty range (start equals end; use "" for always)`,
    });
    return z.NEVER;
  }
  return { start, end };
});

function canonicalTimeZone(tz: string): string | null {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone;
  } catch (err) {
    if (err instanceof RangeError) return null;
    throw err;
  }
}

const timezone = z.string().transform((s, ctx) => {
  const tz = s.trim() === '' ? null : canonicalTimeZone(s);
  if (tz === null) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      message: `${JSON.stringify(s)} is not an IANA time zone (e.g. "Europe/London")`,
    });
    return z.NEVER;
  }
  return tz;
});

const agentArgs = z.array(z.string()).refine((args) => args.some((a) => a.includes('{prompt}')), {
  message: 'must contain "{prompt}" (as a whole argument or inside one), e.g. ["-p", "{prompt}"]',
});

const envName = z.string().refine(
  (k) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(k),
  (k) => ({ message: `${JSON.stringify(k)} is not a valid environment variable name` }),
);

const agentShape = {
  profile: oneOf(AGENT_PROFILES).optional(),
  command: nonEmpty.optional(),
  args: agentArgs.optional(),
  timeout: duration(true).optional(),
  output_format: oneOf(OUTPUT_FORMATS).optional(),
  interactive_command: nonEmpty.optional(),
  env: z.record(envName, z.string()).optional(),
  env_allow: z.array(envName).optional(),
  allow_permission_denials: z.boolean().optional(),
};

const gatesShape = {
  command: z.string().optional(),
  timeout: duration(true).optional(),
  working_hours: workingHours.optional(),
  max_daily_usd: nonNegativeNumber.optional(),
};

const projectName = z.string().refine(
  (n) => PROJECT_NAME_RE.test(n),
  (n) => ({
    message: `invalid project name ${JSON.stringify(n)}: names must match ${String(PROJECT_NAME_RE)} (they become workflow IDs and tmux session names)`,
  }),
);

const projectSchema = table({
  path: nonEmpty,
  prompt: nonEmpty.optional(),
  enabled: z.boolean().optional(),
  host: z.string().optional(),
  worklog_path: nonEmpty.optional(),
  eod_prompt: nonEmpty.optional(),
  rollover_prompt: nonEmpty.optional(),
  inline_skills: z
    .union([z.boolean(), z.array(nonEmpty)], {
      errorMap: (_issue, ctx) => ({ message: typeMessage('true, false or an array of skill names', ctx.data) }),
    })
    .optional(),
  agent: table(agentShape).optional(),
  gates: table(gatesShape).optional(),
});

/** The whole file. Built per parse because `persistent` entries are checked against the file's project names. */
function fileSchema(projectNames: readonly string[]) {
  const definedProject = z.string().refine(
    (n) => projectNames.includes(n),
    (n) => ({
      message:
        projectNames.length === 0
          ? `${JSON.stringify(n)} is not a defined project (no projects are defined)`
          : `${JSON.stringify(n)} is not a defined project${hint(n, projectNames)}`,
    }),
  );
  return table({
    orchestrator: table({
      task_queue: nonEmpty.optional(),
      state_dir: nonEmpty.optional(),
      timezone: timezone.optional(),
      concurrency: intRange(1, 256).optional(),
      persistent: z.array(definedProject).optional(),
      kill_grace: duration(false).optional(),
      on_shutdown: oneOf(ON_SHUTDOWN_MODES).optional(),
      heartbeat_timeout: duration(true).optional(),
      host_wait: duration(true).optional(),
      usage_limit_margin: duration(false).optional(),
      usage_limit_backoff: duration(true).optional(),
      transient_backoff: duration(true).optional(),
      host: z.string().optional(),
      tmux_socket: tmuxName('tmux socket name').optional(),
      session_prefix: tmuxName('session prefix').optional(),
      idle_seconds: positiveNumber.optional(),
    }).optional(),
    server: table({
      ip: nonEmpty.optional(),
      port: intRange(1, 65535).optional(),
      ui_port: intRange(1, 65535).optional(),
      namespace: nonEmpty.optional(),
    }).optional(),
    agent: table(agentShape).optional(),
    gates: table(gatesShape).optional(),
    schedules: table({
      eod: timeOfDay.optional(),
      rollover: timeOfDay.optional(),
      cycle_every: optionalDuration.optional(),
      catchup_window: duration(false).optional(),
    }).optional(),
    eod: table({ prompt: nonEmpty.optional(), worklog_path: nonEmpty.optional() }).optional(),
    rollover: table({ prompt: nonEmpty.optional(), month_prompt: nonEmpty.optional() }).optional(),
    notify: table({ command: z.string().optional() }).optional(),
    projects: z.record(projectName, projectSchema).optional(),
  });
}

/**
 * Every key of workspaces.toml, per table, read off the schema itself: the checks that the example file and
 * `orchestrate init` document every key cannot fall behind a key added here. `projects.<name>` is a project's
 * table (its `agent` and `gates` sub-tables take the keys of [agent] and [gates]).
 */
export function configKeys(): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const { projects: _projects, ...tables } = fileSchema([]).shape;
  for (const [name, schema] of Object.entries(tables)) out[name] = Object.keys(schema.unwrap().shape);
  out['projects.<name>'] = Object.keys(projectSchema.shape);
  return out;
}

type AgentOverrides = z.output<ReturnType<typeof table<typeof agentShape>>>;
type GatesOverrides = z.output<ReturnType<typeof table<typeof gatesShape>>>;

/** An [agent] table's settings before the profile's defaults fill in command and args (null = not set). */
interface PartialAgent extends Omit<AgentConfig, 'command' | 'args' | 'outputFormat'> {
  command: string | null;
  args: string[] | null;
  outputFormat: OutputFormat | null;
}

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
    outputFormat: o?.output_format ?? (inherit ? base.outputFormat : null),
    interactiveCommand: o?.interactive_command ?? base.interactiveCommand,
    env: { ...base.env, ...(o?.env ?? {}) },
    envAllow: o?.env_allow ? [...o.env_allow] : base.envAllow,
    allowPermissionDenials: o?.allow_permission_denials ?? base.allowPermissionDenials,
  };
}

/** Fills in the profile's defaults; null (with the problem recorded) when a custom profile lacks command or args. */
function resolveAgent(a: PartialAgent, at: (string | number)[], problems: ConfigProblem[]): AgentConfig | null {
  const defaults = a.profile === 'custom' ? null : PROFILE_DEFAULTS[a.profile];
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
    outputFormat: a.outputFormat ?? DEFAULTS.outputFormat,
    env: { ...a.env },
    envAllow: a.envAllow ? [...a.envAllow] : null,
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

function systemTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

function emptyToNull(s: string | undefined): string | null {
  return s === undefined || s.trim() === '' ? null : s;
}

// ---------------------------------------------------------------------------------------------------------------
// Entry points

/** Which file to read: the explicit argument, else $ORCHESTRATE_CONFIG, else ./workspaces.toml. Absolute. */
export function resolveConfigPath(explicit?: string): string {
  return locateConfig(explicit).path;
}

function locateConfig(explicit?: string): { path: string; source: string } {
  if (explicit !== undefined && explicit !== '') {
    return { path: path.resolve(expandHome(explicit)), source: 'the path given' };
  }
  const fromEnv = process.env[CONFIG_ENV_VAR];
  if (fromEnv !== undefined && fromEnv !== '') {
    return { path: path.resolve(expandHome(fromEnv)), source: `from ${CONFIG_ENV_VAR}` };
  }
  return {
    path: path.resolve(CONFIG_FILE_NAME),
    source: `the default, ./${CONFIG_FILE_NAME}; set ${CONFIG_ENV_VAR} to use another file`,
  };
}

/**
 * Parses and validates the text of a workspaces.toml. `configPath` names the file in messages and anchors relative
 * paths. Throws ConfigError listing every problem.
 */
export function parseConfig(tomlText: string, configPath: string): Config {
  const absPath = path.resolve(configPath);
  let raw: Record<string, unknown>;
  try {
    raw = parseToml(tomlText.replace(/^\uFEFF/, ''));
  } catch (err) {
    if (err instanceof TomlError) {
      const reason = err.message.replace(/^Invalid TOML document: /, '').split('\n')[0];
      const message = `TOML syntax error at line ${err.line}, column ${err.column}: ${reason}\n${err.codeblock.trimEnd()}`;
      throw new ConfigError(absPath, [{ path: '', message }]);
    }
    throw new ConfigError(absPath, [{ path: '', message: `cannot parse TOML: ${(err as Error).message}` }]);
  }

  // The names defined in [projects] (whatever their contents), for checking orchestrator.persistent.
  const projectNames = Object.keys(z.record(z.unknown()).catch({}).parse(raw.projects));
  const result = fileSchema(projectNames).safeParse(raw, { errorMap });
  if (!result.success) {
    // A misspelt required key is reported once, as the unknown key with its hint, not also as missing.
    const suggested = new Set<string>();
    for (const issue of result.error.issues) {
      const suggestion: unknown = issue.code === z.ZodIssueCode.custom ? issue.params?.suggestion : undefined;
      if (typeof suggestion === 'string') suggested.add(formatPath([...issue.path.slice(0, -1), suggestion]));
    }
    const seen = new Set<string>();
    const problems: ConfigProblem[] = [];
    for (const issue of result.error.issues) {
      const missing = issue.code === z.ZodIssueCode.invalid_type && issue.received === 'undefined';
      if (missing && suggested.has(formatPath(issue.path))) continue;
      const problem = { path: formatPath(issue.path), message: issue.message };
      const id = `${problem.path}\0${problem.message}`;
      if (!seen.has(id)) {
        seen.add(id);
        problems.push(problem);
      }
    }
    throw new ConfigError(absPath, problems);
  }
  const d = result.data;
  const baseDir = path.dirname(absPath);
  const resolvePath = (p: string): string => path.resolve(baseDir, expandHome(p));

  const agent = mergeAgent(
    {
      profile: 'claude',
      command: null,
      args: null,
      timeoutMs: DEFAULTS.agentTimeoutMs,
      outputFormat: null,
      interactiveCommand: DEFAULTS.interactiveCommand,
      env: {},
      envAllow: null,
      allowPermissionDenials: false,
    },
    d.agent,
  );
  // A custom profile without command/args is reported once, where it is set (not once per project).
  const agentProblems: ConfigProblem[] = [];
  const agentOk = resolveAgent(agent, ['agent'], agentProblems) !== null;
  const resolveProjectAgent = (name: string, o: AgentOverrides | undefined): AgentConfig => {
    // A project that sets none of these inherits [agent]'s problem, which is reported once, under [agent].
    const own = o?.profile !== undefined || o?.command !== undefined || o?.args !== undefined;
    const sink = agentOk || own ? agentProblems : [];
    const merged = mergeAgent(agent, o);
    return (
      resolveAgent(merged, ['projects', name, 'agent'], sink) ?? {
        ...merged,
        command: '',
        args: [],
        outputFormat: 'auto',
      }
    );
  };
  const gates = mergeGates(
    { command: '', timeoutMs: DEFAULTS.gateTimeoutMs, workingHours: null, maxDailyUsd: 0 },
    d.gates,
  );
  const eod = {
    prompt: d.eod?.prompt ?? DEFAULT_EOD_PROMPT,
    worklogPath: d.eod?.worklog_path ?? DEFAULTS.worklogPath,
  };
  const rollover = {
    prompt: d.rollover?.prompt ?? DEFAULT_ROLLOVER_PROMPT,
    monthPrompt: d.rollover?.month_prompt ?? DEFAULT_MONTH_PROMPT,
  };
  const o = d.orchestrator;
  const persistent = [...new Set(o?.persistent ?? [])];

  const projects: Record<string, ProjectConfig> = {};
  for (const [name, p] of Object.entries(d.projects ?? {})) {
    projects[name] = {
      name,
      path: resolvePath(p.path),
      prompt: p.prompt ?? DEFAULT_PROJECT_PROMPT,
      enabled: p.enabled ?? true,
      host: emptyToNull(p.host),
      worklogPath: p.worklog_path ?? eod.worklogPath,
      eodPrompt: p.eod_prompt ?? eod.prompt,
      rolloverPrompt: p.rollover_prompt ?? rollover.prompt,
      inlineSkills: Array.isArray(p.inline_skills) ? [...p.inline_skills] : (p.inline_skills ?? false),
      agent: resolveProjectAgent(name, p.agent),
      gates: mergeGates(gates, p.gates),
      persistent: persistent.includes(name),
    };
  }

  if (agentProblems.length > 0) {
    throw new ConfigError(absPath, agentProblems);
  }

  const s = d.schedules;
  return {
    configPath: absPath,
    orchestrator: {
      taskQueue: o?.task_queue ?? DEFAULTS.taskQueue,
      stateDir: resolvePath(o?.state_dir ?? DEFAULTS.stateDir),
      timezone: o?.timezone ?? systemTimeZone(),
      concurrency: o?.concurrency ?? DEFAULTS.concurrency,
      persistent,
      killGraceMs: o?.kill_grace ?? DEFAULTS.killGraceMs,
      onShutdown: o?.on_shutdown ?? DEFAULTS.onShutdown,
      heartbeatTimeoutMs: o?.heartbeat_timeout ?? DEFAULTS.heartbeatTimeoutMs,
      hostWaitMs: o?.host_wait ?? DEFAULTS.hostWaitMs,
      usageLimitMarginMs: o?.usage_limit_margin ?? DEFAULTS.usageLimitMarginMs,
      usageLimitBackoffMs: o?.usage_limit_backoff ?? DEFAULTS.usageLimitBackoffMs,
      transientBackoffMs: o?.transient_backoff,
      host: emptyToNull(o?.host),
      tmuxSocket: o?.tmux_socket ?? DEFAULTS.tmuxSocket,
      sessionPrefix: o?.session_prefix ?? DEFAULTS.sessionPrefix,
      idleSeconds: o?.idle_seconds ?? DEFAULTS.idleSeconds,
    },
    server: {
      ip: d.server?.ip ?? DEFAULTS.serverIp,
      port: d.server?.port ?? DEFAULTS.serverPort,
      uiPort: d.server?.ui_port ?? DEFAULTS.uiPort,
      namespace: d.server?.namespace ?? DEFAULTS.namespace,
    },
    schedules: {
      eod: s?.eod !== undefined ? s.eod : DEFAULTS.eod,
      rollover: s?.rollover !== undefined ? s.rollover : DEFAULTS.rollover,
      cycleEveryMs: s?.cycle_every ?? null,
      catchupWindowMs: s?.catchup_window ?? DEFAULTS.catchupWindowMs,
    },
    eod,
    rollover,
    notify: { command: emptyToNull(d.notify?.command) },
    projects,
  };
}

/** Reads and parses the config file (see resolveConfigPath). Throws ConfigError, never anything else. */
export async function loadConfig(explicit?: string): Promise<Config> {
  const { path: configPath, source } = locateConfig(explicit);
  let bytes: Buffer;
  try {
    const st = await fsp.stat(configPath);
    if (st.isFile() && st.size > MAX_CONFIG_BYTES) {
      const message = `${configPath} is ${(st.size / 1024 / 1024).toFixed(1)} MB; a workspaces.toml is a few KB — is this the right file?`;
      throw new ConfigError(configPath, [{ path: '', message }], message);
    }
    bytes = await fsp.readFile(configPath);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const e = err as NodeJS.ErrnoException;
    const message =
      e.code === 'ENOENT'
        ? `No config file at ${configPath} (${source}). Create one with "orchestrate init", or copy workspaces.example.toml from the orchestrate repository to ${configPath} and edit it.`
        : `Cannot read config file ${configPath}: ${e.message}`;
    throw new ConfigError(configPath, [{ path: '', message }], message);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const line = bytes.subarray(0, firstInvalidUtf8(bytes)).toString('latin1').split('\n').length;
    const message = `${configPath} is not valid UTF-8 (line ${line}) — save it as UTF-8`;
    throw new ConfigError(configPath, [{ path: '', message }], message);
  }
  // `~` in paths expands to the home folder, so it is part of the key.
  const cacheKey = `${configPath}\0${os.homedir()}`;
  const cached = parsedConfigs.get(cacheKey);
  if (cached?.text === text) return cached.config;
  const config = deepFreeze(parseConfig(text, configPath));
  parsedConfigs.set(cacheKey, { text, config });
  return config;
}

/** A loaded config is shared by every caller (see parsedConfigs): frozen, so no caller can change it for the others. */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * The last parse of each config file, keyed by its exact text (and the home folder). Every activity re-reads the config (so an edit
 * applies to the next job), and validating a registry of hundreds of projects costs far more than reading it;
 * parsing is a pure function of the text and the path, so an unchanged file is not validated again, and
 * every activity shares one (frozen) object instead of allocating its own copy of hundreds of projects.
 */
const parsedConfigs = new Map<string, { text: string; config: Config }>();

/** A registry of hundreds of projects is well under this. */
const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

function firstInvalidUtf8(bytes: Buffer): number {
  let lo = 0;
  let hi = bytes.length;
  // The longest valid prefix, by bisection (streaming mode: a cut inside a character is not an error).
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, mid), { stream: true });
      lo = mid;
    } catch {
      hi = mid - 1;
    }
  }
  return lo;
}

/** The named project, or a ConfigError naming the known projects (with a did-you-mean hint). */
export function projectOrThrow(config: Config, name: string): ProjectConfig {
  if (Object.prototype.hasOwnProperty.call(config.projects, name)) return config.projects[name];
  const names = Object.keys(config.projects);
  const message =
    names.length === 0
      ? `Unknown project ${JSON.stringify(name)}: ${config.configPath} defines no projects (add a [projects.<name>] table with a path).`
      : `Unknown project ${JSON.stringify(name)}${hint(name, names)}. Projects in ${config.configPath}: ${names.join(', ')}.`;
  throw new ConfigError(config.configPath, [{ path: formatPath(['projects', name]), message }], message);
}
