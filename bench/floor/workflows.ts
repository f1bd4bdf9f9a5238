// The Temporal floor: the least a design with a regular activity per job can do on the same server and SDK.
// Bench-only workflows, bundled apart from the product's; the bench runs them side by side with ours.
import { executeChild, proxyActivities, workflowInfo } from '@temporalio/workflow';
import { Semaphore } from '../../src/lib/semaphore';
import type { FloorActivities, FloorJob } from './activities';

const { floorAgent } = proxyActivities<FloorActivities>({ startToCloseTimeout: '5 minutes' });

/** One job: one activity that runs the agent (P1's floor; the child of the child fan-out). */
export async function floorOneActivity(job: FloorJob): Promise<number> {
  return floorAgent(job);
}

export interface FloorFanOutInput {
  jobs: FloorJob[];
  /** At most this many jobs in flight from the parent (the worker's agent slots may cap the agents lower). */
  window: number;
  /** A child workflow per job (true) or the activities straight from the parent (false). */
  children: boolean;
}

/** A cycle at the floor: every job through a FIFO window, as a child workflow or as a plain activity. */
export async function floorFanOut(input: FloorFanOutInput): Promise<number> {
  const slots = new Semaphore(input.window);
  const { workflowId } = workflowInfo();
  await Promise.all(
    input.jobs.map(async (job, i) => {
      const release = await slots.acquire();
      try {
        if (input.children) await executeChild(floorOneActivity, { workflowId: `${workflowId}/${i}`, args: [job] });
        else await floorAgent(job);
      } finally {
        release();
      }
    }),
  );
  return input.jobs.length;
}
