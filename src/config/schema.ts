// The zod schema of workspaces.toml: every key, its type and its check, with messages that name the TOML type
// that was found (never the value, which may be a secret) and suggest the closest key for a misspelt one.
// validate() turns the raw TOML into the checked snake_case data, or throws every problem at once.
import { z } from 'zod';
import { UTC_ZONE, isUtcZone } from '../lib/dates';
import { DURATION_EXAMPLES, tryParseDuration } from '../lib/duration';
import { ConfigError, didYouMean, didYouMeanHint, formatPath, suggestionText } from './errors';
import { AGENT_PROFILES, ON_SHUTDOWN_MODES, OUTPUT_FORMATS, PROJECT_NAME_RE, type ConfigProblem } from './types';

// ---------------------------------------------------------------------------------------------------------------
// Messages

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
        message: `unknown key ${JSON.stringify(key)}${suggestionText(suggestion)}`,
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
  if (isUtcZone(tz)) return UTC_ZONE;
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
  exit_grace: duration(false).optional(),
  stall_timeout: optionalDuration.optional(),
  output_format: oneOf(OUTPUT_FORMATS).optional(),
  interactive_command: nonEmpty.optional(),
  env: z.record(envName, z.string()).optional(),
  env_allow: z.array(envName).optional(),
  allow_permission_denials: z.boolean().optional(),
  account: nonEmpty.optional(),
  resume: z.boolean().optional(),
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
          : `${JSON.stringify(n)} is not a defined project${didYouMeanHint(n, projectNames)}`,
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

/** An [agent] or [projects.<name>.agent] table as written (snake_case, durations already in ms). */
export type AgentOverrides = z.output<ReturnType<typeof table<typeof agentShape>>>;
/** A [gates] or [projects.<name>.gates] table as written. */
export type GatesOverrides = z.output<ReturnType<typeof table<typeof gatesShape>>>;
/** The whole file once checked: every value valid, nothing defaulted yet. */
export type ConfigFile = z.output<ReturnType<typeof fileSchema>>;

/**
 * Checks the parsed TOML against the schema. Throws a ConfigError listing every problem (each once, with its key
 * path); a misspelt required key is reported once, as the unknown key with its hint, not also as missing.
 */
export function validate(raw: Record<string, unknown>, configPath: string): ConfigFile {
  // The names defined in [projects] (whatever their contents), for checking orchestrator.persistent.
  const projectNames = Object.keys(z.record(z.unknown()).catch({}).parse(raw.projects));
  const result = fileSchema(projectNames).safeParse(raw, { errorMap });
  if (result.success) return result.data;
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
  throw new ConfigError(configPath, problems);
}
