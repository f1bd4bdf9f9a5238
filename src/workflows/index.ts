// Every workflow the worker registers. Workflow code is deterministic: it imports only workflow-safe
// modules and types; all I/O happens in activities.
export { agentJob } from './agentJob';
export { accountHold } from './accountHold';
export { cycle, eod, rollover } from './batch';
