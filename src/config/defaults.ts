// The value of every setting that workspaces.toml leaves out, by table (the agent profiles' own defaults are in
// profileDefaults.ts). Durations are in ms.
import type { GatesConfig, OnShutdown, OutputFormat } from './types';

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

/** [orchestrator]; `timezone` defaults to the system's, `host` and `transient_backoff` to unset. */
export const ORCHESTRATOR_DEFAULTS = {
  taskQueue: 'orchestrate',
  stateDir: '~/.orchestrate',
  concurrency: 4,
  killGraceMs: 10_000,
  onShutdown: 'detach' as OnShutdown,
  heartbeatTimeoutMs: 30_000,
  hostWaitMs: 120_000,
  usageLimitMarginMs: 120_000,
  usageLimitBackoffMs: 30 * 60_000,
  tmuxSocket: 'orchestrate',
  sessionPrefix: 'orch-',
  idleSeconds: 30,
};

export const SERVER_DEFAULTS = { ip: '127.0.0.1', port: 7233, uiPort: 8233, namespace: 'default' };

/** [agent] apart from the profile's command and args. */
export const AGENT_DEFAULTS = {
  timeoutMs: 45 * 60_000,
  exitGraceMs: 30_000,
  stallTimeoutMs: (10 * 60_000) as number | null,
  outputFormat: 'auto' as OutputFormat,
};

export const GATES_DEFAULTS: GatesConfig = { command: '', timeoutMs: 60_000, workingHours: null, maxDailyUsd: 0 };

/** [schedules]; `cycle_every` defaults to no cycle schedule. */
export const SCHEDULES_DEFAULTS = { eod: '23:00', rollover: '06:00', catchupWindowMs: 6 * 3_600_000 };

export const EOD_DEFAULTS = { prompt: DEFAULT_EOD_PROMPT, worklogPath: 'docs/worklog/{date}.md' };

export const ROLLOVER_DEFAULTS = { prompt: DEFAULT_ROLLOVER_PROMPT, monthPrompt: DEFAULT_MONTH_PROMPT };
