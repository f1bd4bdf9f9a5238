// The result of a persistent job: the agent's answer (from the transcript the Stop hook names, else from the
// pane), the AgentRunResult the workflow gets, and the run folder's pane.log, result.txt and session.json.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { ProjectConfig } from '../config';
import { PROFILES } from '../agents/profiles';
import {
  claudeTurnFailure,
  claudeUsageLimit,
  permissionDenialFailure,
  stripAnsi,
  truncateText,
} from '../agents/result';
import type { AgentRunResult } from '../temporal/types';
import { answerFromPane } from './screen';
import type { Marker } from './sessionFiles';
import { answerFromTranscript, answerOnceWritten } from './transcript';

/** How a job that reached its end was detected to be done. */
export type Completion = 'hook' | 'idle';

/** What is known of a job from its start. */
export interface JobFacts {
  project: ProjectConfig;
  idleSeconds: number;
  session: string;
  socket: string;
  attach: string;
  runDir: string;
  prompt: string;
  nonce: string;
  startedAt: number;
  created: boolean;
  adopted: boolean;
  panePid: number | null;
}

/** How it ended. */
export interface JobEnding {
  outcome: AgentRunResult['outcome'];
  message?: string;
  /** The whole pane with its scrollback (ANSI escapes are stripped here). */
  pane: string;
  marker: Marker | null;
  /** Tool uses the PermissionRequest hook refused during the job (hook inputs: `tool_name`, …). */
  denials: unknown[];
  completion: Completion;
  /** The prompt may have reached the agent: without a transcript, the answer is read off the pane. */
  promptMayBeSent: boolean;
}

/** The agent's answer, and where it was read. */
async function answerOf(facts: JobFacts, ending: JobEnding): Promise<{ answer: string; source: string }> {
  const { marker } = ending;
  // The hook's own copy of the last message first: the transcript may get it seconds after the hook ran.
  if (marker && typeof marker.last_assistant_message === 'string' && marker.last_assistant_message.trim() !== '')
    return { answer: marker.last_assistant_message.trim(), source: `${String(marker.hook_event_name)} hook input` };
  if (marker && typeof marker.transcript_path === 'string') {
    const transcript = marker.transcript_path;
    const answer = await answerOnceWritten(() => answerFromTranscript(transcript, facts.prompt));
    if (answer !== null) return { answer, source: `transcript ${marker.transcript_path}` };
  }
  return { answer: ending.promptMayBeSent ? answerFromPane(ending.pane, facts.prompt) : '', source: 'pane' };
}

/** Writes the run folder's files (best effort) and returns the job's result. */
export async function writeJobResult(facts: JobFacts, ending: JobEnding): Promise<AgentRunResult> {
  const { project, runDir, session } = facts;
  let { outcome, message } = ending;
  await fs.writeFile(path.join(runDir, 'pane.log'), stripAnsi(ending.pane)).catch(() => undefined);
  const { answer, source } = await answerOf(facts, ending);
  await fs.writeFile(path.join(runDir, 'result.txt'), answer).catch(() => undefined);
  const { text, truncated } = truncateText(answer);
  let usageLimitResetsAt: string | null = null;
  let failure: Pick<AgentRunResult, 'transient' | 'authFailure'> = {};
  const marker = ending.marker;
  if (outcome === 'succeeded' && marker?.hook_event_name === 'StopFailure') {
    // An API error ended the turn: what the TUI shows is its error, not an answer.
    const error = typeof marker.error === 'string' ? marker.error : 'unknown';
    const failed = claudeTurnFailure(project.name, error, answer, PROFILES.claude, new Date());
    ({ outcome, message, usageLimitResetsAt } = failed);
    failure = { transient: failed.transient, authFailure: failed.authFailure };
  } else if (outcome === 'succeeded') {
    const limited = claudeUsageLimit(project.name, answer, new Date());
    const denied = permissionDenialFailure(
      project.name,
      ending.denials,
      project.agent.allowPermissionDenials,
      '[agent] interactive_command',
    );
    if (limited) {
      ({ outcome, message, usageLimitResetsAt } = limited);
    } else if (denied) {
      ({ outcome, message } = denied);
    }
  }
  const how = ending.completion === 'hook' ? 'Stop hook' : `quiet at its prompt for ${facts.idleSeconds}s`;
  const result: AgentRunResult = {
    outcome,
    message: message ?? `${project.name}: done in tmux session ${session} (${how})`,
    exitCode: null,
    signal: null,
    durationMs: Date.now() - facts.startedAt,
    costUsd: null,
    numTurns: null,
    sessionId: ending.marker && typeof ending.marker.session_id === 'string' ? ending.marker.session_id : null,
    subtype: null,
    result: text,
    resultTruncated: truncated,
    logPath: runDir,
    pid: facts.panePid,
    usageLimitResetsAt,
    ...(failure.transient ? { transient: true } : {}),
    ...(failure.authFailure ? { authFailure: true } : {}),
  };
  const record = {
    session,
    socket: facts.socket,
    attach: facts.attach,
    project: project.name,
    nonce: facts.nonce,
    created: facts.created,
    adopted: facts.adopted,
    startedAt: new Date(facts.startedAt).toISOString(),
    finishedAt: new Date().toISOString(),
    outcome,
    completion: outcome === 'succeeded' ? ending.completion : null,
    resultSource: source,
    marker: ending.marker,
    denials: ending.denials,
  };
  await fs.writeFile(path.join(runDir, 'session.json'), JSON.stringify(record, null, 2)).catch(() => undefined);
  return result;
}
