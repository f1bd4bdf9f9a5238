// What the Temporal Web UI shows of orchestrate's workflows: deep links to them and a job's static details.
// Workflow-safe: pure functions, no imports.

/** Deep link to a workflow (or one run of it) in the Web UI. */
export function uiWorkflowUrl(uiUrl: string, namespace: string, workflowId: string, runId?: string): string {
  const base = `${uiUrl.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return runId ? `${base}/${encodeURIComponent(runId)}` : base;
}

/** A job's static details in the Web UI (Temporal markdown): the project folder and the prompt's first line. */
export function jobStaticDetails(path: string, promptFirstLine: string): string {
  return `**project** \`${path}\`\n\n**prompt** ${promptFirstLine || '(empty)'}`;
}
