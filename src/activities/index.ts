// All activities the worker registers, bound to the worker's config path and limits.
import { createAccountHoldActivities } from './accountHold';
import { createAgentJobActivities } from './agentJob';
import { createBatchActivities } from './batch';
import { createNotifyActivities } from './notify';
import { createSessionActivities } from './sessions';
import { Semaphore } from '../lib/semaphore';
import { WorkerAccountHolds } from '../runner/accountHolds';

export interface ActivityDeps {
  configPath?: string;
  /** Max agent processes at once on this worker (orchestrator.concurrency). */
  maxAgents: number;
  /** The worker's state folder at start (agent jobs find a running job's run folder there without a config). */
  stateDir?: string;
}

export function createActivities(deps: ActivityDeps) {
  const agentSlots = new Semaphore(deps.maxAgents);
  const accountHolds = new WorkerAccountHolds();
  return {
    ...createAgentJobActivities({ configPath: deps.configPath, agentSlots, accountHolds, stateDir: deps.stateDir }),
    ...createBatchActivities({ configPath: deps.configPath }),
    ...createSessionActivities({ configPath: deps.configPath }),
    ...createNotifyActivities({ configPath: deps.configPath }),
    ...createAccountHoldActivities(),
  };
}

export type Activities = ReturnType<typeof createActivities>;
