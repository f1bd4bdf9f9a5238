// The agent account key (which projects share a usage limit and a login) and the argv of a resumed session.
import { agentAccountKey, parseConfig } from '../src/config';
import { CONTINUATION_PROMPT, invocationArgs } from '../src/runner/invocation';

const config = (toml: string) => parseConfig(toml, '/etc/orchestrate/workspaces.toml');
const base = `
[projects.a]
path = "/a"
[projects.b]
path = "/b"
`;

describe('agent account key', () => {
  test('projects with the same profile and credentials share one; a different key or profile does not', () => {
    const c = config(`${base}
[projects.c]
path = "/c"
[projects.c.agent]
env = { ANTHROPIC_API_KEY = "sk-other-key-123456" }
[projects.d]
path = "/d"
[projects.d.agent]
profile = "codex"
`);
    const env = { ANTHROPIC_API_KEY: 'sk-worker-key-abcdef', HOME: '/home/w', UNRELATED: 'x' };
    const key = (p: string) => agentAccountKey(c.projects[p], env);
    expect(key('a')).toBe(key('b'));
    expect(key('a')).not.toBe(key('c'));
    expect(key('a')).not.toBe(key('d'));
    expect(key('a')).toMatch(/^claude@local:ANTHROPIC_API_KEY,HOME#[0-9a-f]{12}$/);
    // Never the secret itself: the key is kept in workflow history.
    for (const p of ['a', 'c']) {
      expect(key(p)).not.toContain('sk-');
    }
    // Only variables the agent sees count: env_allow leaves the worker's key out.
    const allowed = config(`${base}[projects.b.agent]\nenv_allow = ["PATH"]\n`);
    expect(agentAccountKey(allowed.projects.b, env)).toMatch(/^claude@local:#/);
  });

  test('[agent] account names the account instead', () => {
    const c = config(`[agent]\naccount = "team"\n${base}[projects.b.agent]\naccount = "solo"\n`);
    expect(agentAccountKey(c.projects.a, {})).toBe('account:team');
    expect(agentAccountKey(c.projects.b, {})).toBe('account:solo');
  });
});

describe('resume', () => {
  test('on by default for claude, off for the other profiles, configurable', () => {
    const c = config(
      `${base}[projects.b.agent]\nprofile = "gemini"\n[projects.c]\npath = "/c"\n[projects.c.agent]\nresume = false\n`,
    );
    expect(c.projects.a.agent.resume).toBe(true);
    expect(c.projects.b.agent.resume).toBe(false);
    expect(c.projects.c.agent.resume).toBe(false);
  });

  test('a resumed claude run carries --resume <id> and the continuation prompt, not the task', () => {
    const agent = { profile: 'claude' as const, args: ['-p', '{prompt}', '--output-format', 'json'] };
    expect(invocationArgs(agent, 'the task')).toEqual(['-p', 'the task', '--output-format', 'json']);
    expect(invocationArgs(agent, 'the task', 'abc-123')).toEqual([
      '--resume',
      'abc-123',
      '-p',
      CONTINUATION_PROMPT,
      '--output-format',
      'json',
    ]);
    expect(invocationArgs({ ...agent, profile: 'codex' }, 'the task', 'abc-123')).toEqual(
      invocationArgs({ ...agent, profile: 'codex' }, 'the task'),
    );
  });
});
