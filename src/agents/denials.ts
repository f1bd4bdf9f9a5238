// Claude Code's permission denials. In its default permission mode a headless (`-p`) run cannot ask anyone, so
// every tool use that needs approval is refused, the model is told it lacks permission, and the run still
// ends with exit 0 and `subtype: success`, listing the refusals in `permission_denials`. Nothing was done, so
// orchestrate reports it as a failure, unless the project says refusals are expected
// ([agent] allow_permission_denials).
import type { ParsedOutput } from './result';

/** The distinct tool names in a result's `permission_denials`, in order; [] when there are none. */
export function deniedTools(permissionDenials: unknown): string[] {
  if (!Array.isArray(permissionDenials)) return [];
  const names: string[] = [];
  for (const d of permissionDenials) {
    const name =
      typeof d === 'object' && d !== null && typeof (d as { tool_name?: unknown }).tool_name === 'string'
        ? (d as { tool_name: string }).tool_name
        : 'unknown tool';
    if (!names.includes(name)) names.push(name);
  }
  return names;
}

/**
 * The failure for a run whose tool uses were refused, or null when none were (or the project allows it).
 * The fix names the flags that grant the refused tools.
 */
export function permissionDenialFailure(
  project: string,
  permissionDenials: unknown,
  allowed: boolean | undefined,
  /** Where the flags go: `[agent] args` for `claude -p`, `[agent] interactive_command` for a tmux session. */
  flagsIn = '[agent] args',
): Pick<ParsedOutput, 'outcome' | 'message'> | null {
  const tools = deniedTools(permissionDenials);
  if (tools.length === 0 || allowed === true) return null;
  const count = Array.isArray(permissionDenials) ? permissionDenials.length : tools.length;
  const grant = tools.map((t) => (t === 'Bash' ? bashGrants(permissionDenials) : t)).join(' ');
  return {
    outcome: 'agent_error',
    message:
      `${project}: agent was denied ${count} tool use${count === 1 ? '' : 's'} (${tools.join(', ')}) and did not do that work — ` +
      `allow them in ${flagsIn}: "--permission-mode", "acceptEdits" (file edits) and/or "--allowedTools", "${grant}"` +
      ' (or set allow_permission_denials = true in [agent] if refusals are expected)',
  };
}

/** The Bash rule a refusal's fix shows when it cannot name the refused command's own. */
const EXAMPLE_BASH_RULE = 'Bash(git commit:*)';

/**
 * The `--allowedTools` rules for the refused Bash commands: each command's leading words (its program and, say,
 * its subcommand: up to two, stopping at the first option) as a prefix rule, `Bash(git commit:*)`. A command whose
 * start cannot be read (a quote, a variable, a pipe) gets that rule as the example.
 */
function bashGrants(permissionDenials: unknown): string {
  const rules: string[] = [];
  for (const d of Array.isArray(permissionDenials) ? permissionDenials : []) {
    if (typeof d !== 'object' || d === null || (d as { tool_name?: unknown }).tool_name !== 'Bash') continue;
    const command = (d as { tool_input?: { command?: unknown } }).tool_input?.command;
    const words: string[] = [];
    for (const w of typeof command === 'string' ? command.trim().split(/\s+/) : []) {
      if (words.length === 2 || !/^[\w@.+/=-]+$/.test(w) || w.startsWith('-')) break;
      words.push(w);
    }
    const rule = words.length ? `Bash(${words.join(' ')}:*)` : EXAMPLE_BASH_RULE;
    if (!rules.includes(rule)) rules.push(rule);
  }
  return rules.length ? rules.join(' ') : EXAMPLE_BASH_RULE;
}
