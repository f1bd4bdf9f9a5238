// The fix a permission-denial failure names: the tools to grant, with Bash rules for the commands that were refused.
import { permissionDenialFailure } from '../src/agents/denials';

const bash = (command: unknown) => ({ tool_name: 'Bash', tool_use_id: 'toolu_1', tool_input: { command } });

describe('permissionDenialFailure', () => {
  test('no refusals, or refusals the project expects: no failure', () => {
    expect(permissionDenialFailure('p', [], false)).toBeNull();
    expect(permissionDenialFailure('p', [bash('npm test')], true)).toBeNull();
  });

  test('names the refused tools and a Bash rule for each refused command (program and subcommand, up to an option)', () => {
    const f = permissionDenialFailure(
      'p',
      [
        { tool_name: 'Write', tool_input: { file_path: 'NOTES.md' } },
        bash('git commit -m "notes"'),
        bash('npm test'),
        bash('git commit --amend'),
        bash('ls -la src'),
      ],
      false,
    );
    expect(f?.outcome).toBe('agent_error');
    expect(f?.message).toBe(
      'p: agent was denied 5 tool uses (Write, Bash) and did not do that work — allow them in [agent] args: ' +
        '"--permission-mode", "acceptEdits" (file edits) and/or "--allowedTools", "Write Bash(git commit:*) ' +
        'Bash(npm test:*) Bash(ls:*)" (or set allow_permission_denials = true in [agent] if refusals are expected)',
    );
  });

  test('a command whose start cannot be read as words gets the example rule', () => {
    for (const command of ['"$HOME/run.sh" x', '$(make) all', undefined]) {
      expect(permissionDenialFailure('p', [bash(command)], false, '[agent] interactive_command')?.message).toContain(
        'allow them in [agent] interactive_command: "--permission-mode", "acceptEdits" (file edits) and/or "--allowedTools", "Bash(git commit:*)"',
      );
    }
  });
});
