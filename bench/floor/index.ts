// Runs the floor workflows on their own worker and task queue, on the bench's server and connection.
import { Worker } from '@temporalio/worker';
import type { BenchBase } from '../lib';
import { floorActivities, type FloorJob } from './activities';
import type { FloorFanOutInput } from './workflows';

export type { FloorJob } from './activities';

export interface Floor {
  /** Client start → result of one job (ms). */
  oneJob(job: FloorJob): Promise<number>;
  /** Client start → result of a whole fan-out (ms). */
  fanOut(jobs: FloorJob[], opts: { window: number; children: boolean }): Promise<number>;
  stop(): Promise<void>;
}

let seq = 0;

export async function startFloor(base: BenchBase, name: string, agentSlots: number): Promise<Floor> {
  const taskQueue = `bench-floor-${name}`;
  const worker = await Worker.create({
    connection: base.connection,
    namespace: base.namespace,
    taskQueue,
    workflowBundle: { codePath: base.floorBundlePath },
    activities: floorActivities(agentSlots),
    identity: `bench-floor-${name}`,
  });
  const running = worker.run();
  const timed = async (workflowType: string, arg: unknown): Promise<number> => {
    const t0 = performance.now();
    await base.client.workflow.execute(workflowType, {
      taskQueue,
      workflowId: `floor/${name}/${process.pid}-${++seq}`,
      args: [arg],
    });
    return performance.now() - t0;
  };
  return {
    oneJob: (job) => timed('floorOneActivity', job),
    fanOut: (jobs, opts) => timed('floorFanOut', { jobs, ...opts } satisfies FloorFanOutInput),
    stop: async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    },
  };
}
