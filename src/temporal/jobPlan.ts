// The plan a job's starter passes in the job's input: built from a config snapshot, by the CLI (from its config)
// and by a batch (from the snapshot its activity read), so both start the same job. Workflow-safe: pure.
import { fillTemplate, firstLine, promptVars } from '../lib/prompts';
import type { BatchKind, ConfigSnapshot, JobKind, JobSettings, JobStartPlan } from './types';

type SnapshotProject = ConfigSnapshot['projects'][number];

/** What the job is: its kind, its day, and a prompt given for it alone. */
export interface JobAsked {
  kind: JobKind;
  date: string;
  prompt?: string;
}

/**
 * The job's plan, or null when the snapshot predates the fields a plan needs (the job then prepares itself, as
 * jobs always did before).
 */
export function jobStartPlan(
  snap: Pick<ConfigSnapshot, 'timezone'> & { jobSettings?: JobSettings },
  project: SnapshotProject,
  job: JobAsked,
): JobStartPlan | null {
  const settings = snap.jobSettings;
  if (!settings || project.timeoutMs === undefined || project.path === undefined) return null;
  return {
    project: project.name,
    kind: job.kind,
    path: project.path,
    promptFirstLine: jobPromptLine(project, job),
    timeoutMs: project.timeoutMs,
    killGraceMs: settings.killGraceMs,
    heartbeatTimeoutMs: settings.heartbeatTimeoutMs,
    usageLimitMarginMs: settings.usageLimitMarginMs,
    usageLimitBackoffMs: settings.usageLimitBackoffMs,
    transientBackoffMs: settings.transientBackoffMs,
    timezone: snap.timezone,
    persistent: project.persistent,
    host: project.host,
    ...(project.account !== undefined ? { account: project.account } : {}),
    resume: (project.resume ?? false) && !project.persistent,
    date: job.date,
    ...(job.prompt !== undefined ? { promptOverride: job.prompt } : {}),
  };
}

/** The first line of the prompt the job will get (rendered for its day), for the Web UI. */
export function jobPromptLine(project: SnapshotProject, job: JobAsked): string {
  const batchKind: BatchKind = job.kind === 'run' ? 'cycle' : job.kind;
  const template = job.prompt ?? project.promptFirstLines?.[batchKind] ?? '';
  return firstLine(fillTemplate(template, promptVars(job.date, project.worklogPath ?? '')));
}
