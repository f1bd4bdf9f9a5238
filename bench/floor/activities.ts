// The floor's only activity: run the agent, nothing else (no config, no run folder, no ledger).
import { Semaphore } from '../../src/lib/semaphore';
import { bareAgent } from '../lib';

export interface FloorJob {
  agent: string;
  cwd: string;
  prompt: string;
}

export interface FloorActivities {
  floorAgent(job: FloorJob): Promise<number>;
}

/** The activities of one floor worker: `agentSlots` agents at most at once (as the product's worker caps its own). */
export function floorActivities(agentSlots: number): FloorActivities {
  const slots = new Semaphore(agentSlots);
  return {
    async floorAgent(job) {
      const release = await slots.acquire();
      try {
        return await bareAgent(job.cwd, job.prompt, job.agent);
      } finally {
        release();
      }
    },
  };
}
