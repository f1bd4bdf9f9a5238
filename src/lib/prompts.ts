// Renders a job's prompt for its kind and day. Pure: used by the agent activities (and a job's first line by its
// starters).
import type { JobKind } from '../temporal/types';
import { isFirstOfMonth, monthLabel, previousMonthLabel, yesterday } from './dates';

export interface PromptSources {
  prompt: string;
  eodPrompt: string;
  rolloverPrompt: string;
  monthPrompt: string;
  worklogPath: string;
}

/** Replaces `{name}` placeholders; unknown names are left as written. */
export function fillTemplate(template: string, vars: Record<string, string>): string {
  return template.replace(/\{([a-z_]+)\}/g, (whole, name: string) => vars[name] ?? whole);
}

export function worklogPathFor(template: string, day: string): string {
  return fillTemplate(template, { date: day });
}

/** The `{placeholders}` a prompt may use, for `day`. */
export function promptVars(day: string, worklogPath: string): Record<string, string> {
  return {
    date: day,
    yesterday: yesterday(day),
    worklog_path: worklogPathFor(worklogPath, day),
    yesterday_worklog_path: worklogPathFor(worklogPath, yesterday(day)),
    month: monthLabel(day),
    last_month: previousMonthLabel(day),
  };
}

export function renderPrompt(kind: JobKind, sources: PromptSources, day: string, override?: string): string {
  const vars = promptVars(day, sources.worklogPath);
  if (override !== undefined) return fillTemplate(override, vars);
  switch (kind) {
    case 'run':
    case 'cycle':
      return fillTemplate(sources.prompt, vars);
    case 'eod':
      return fillTemplate(sources.eodPrompt, vars);
    case 'rollover': {
      const base = fillTemplate(sources.rolloverPrompt, vars);
      return isFirstOfMonth(day) ? `${base}\n\n${fillTemplate(sources.monthPrompt, vars)}` : base;
    }
  }
}

export function firstLine(text: string, max = 120): string {
  const line = text.split('\n').find((l) => l.trim() !== '') ?? '';
  return line.length > max ? `${line.slice(0, max - 1)}…` : line.trim();
}
