// The activities as the workflows see them: names, inputs and results, types only. Workflows proxy these;
// src/activities implements them (its factories are checked against these interfaces), and workflow tests
// stub them. Type imports only, so the workflow bundle never pulls in Node code.
import type { NotifyEvent } from '../lib/notify';
import type {
  AccountKey,
  AccountLimited,
  AgentJobInput,
  AgentRunResult,
  BatchKind,
  BatchRow,
  ConfigSnapshot,
  GateDecision,
  JobPlan,
  RunAgentInput,
} from './types';

/** The one agent job: resolve its plan, run the agent once. */
export interface AgentJobActivities {
  prepareJob(input: AgentJobInput): Promise<JobPlan>;
  runAgentJob(input: RunAgentInput): Promise<AgentRunResult>;
}

/** The outcome of the EOD work-log check: where it looked and whether the job wrote it. */
export interface WorklogCheck {
  ok: boolean;
  path: string;
  reason: string;
}

/** The EOD job's own work-log check: the day, when its agent started, and what the agent reported. */
export interface JobWorklogInput {
  project: string;
  date: string;
  since: string;
  result: AgentRunResult;
}

/** What a cycle starts from: the config snapshot, and the workflow ID of another cycle that goes first (or null). */
export interface OpenedCycle {
  snap: ConfigSnapshot;
  otherRunning: string | null;
}

/** What the cycle, EOD and rollover workflows ask of the outside world. */
export interface BatchActivities {
  snapshotConfig(): Promise<ConfigSnapshot>;
  evaluateGates(input: { projects: string[]; at: string }): Promise<GateDecision[]>;
  verifyWorklog(input: { project: string; date: string; since: string }): Promise<WorklogCheck>;
  /** The EOD job's check of its own work log; a missing one also corrects the job's ledger line to failed. */
  checkJobWorklog(input: JobWorklogInput): Promise<WorklogCheck>;
  writeDigest(input: { date: string; rows: BatchRow[]; kind: BatchKind }): Promise<string>;
  /** Another batch of this kind running on this task queue that goes first: its workflow ID, else null. */
  otherRunningBatch(input: { kind: BatchKind; selfWorkflowId: string; selfStartTime: string }): Promise<string | null>;
  /** A cycle's start in one round trip: its config snapshot, and otherRunningBatch's answer. */
  openCycle(input: { kind: BatchKind; selfWorkflowId: string; selfStartTime: string }): Promise<OpenedCycle>;
  /** Answered by any worker on the queue it is sent to: that it ran is the answer. */
  hostReady(): Promise<string>;
}

/** The cycle's housekeeping of persistent sessions; workflows never read its report. */
export interface SessionActivities {
  reapStaleSessions(): Promise<unknown>;
}

export interface NotifyActivities {
  /** Runs the notification hook; true when it ran and succeeded (or none is configured). */
  sendNotification(event: NotifyEvent): Promise<boolean>;
}

/** The usage-limit hold of an agent account, read before a job launches its agent (a local activity). */
export interface AccountHoldActivities {
  /** The account's hold workflow on this task queue, and its AccountLimited while it runs (else null). */
  readAccountHold(input: { account: AccountKey }): Promise<{ workflowId: string; held: AccountLimited | null }>;
}

/** Every activity a workflow may call. */
export type WorkflowActivities = AgentJobActivities &
  BatchActivities &
  SessionActivities &
  NotifyActivities &
  AccountHoldActivities;
