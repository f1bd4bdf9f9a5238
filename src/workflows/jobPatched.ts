// Which patched branches an agent job takes: a job started on this code records one marker for all of them, one
// started before asks each patch as it did (see AGENT_JOB_ONE_MARKER_PATCH).
import { patched } from '@temporalio/workflow';
import { AGENT_JOB_ONE_MARKER_PATCH, type AgentJobMarkedPatch } from '../temporal/patches';

/**
 * Whether the job takes patch `id`'s branch. Asked at each branch, as patched() is: while a job started before
 * replays, the one marker is absent and each patch answers from its own marker; once such a job runs live again,
 * the one marker is recorded at its next branch, where patched() would have said yes anyway.
 */
export function jobPatched(id: AgentJobMarkedPatch): boolean {
  return patched(AGENT_JOB_ONE_MARKER_PATCH) || patched(id);
}
