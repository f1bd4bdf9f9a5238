import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  Config,
  ConfigError,
  configKeys,
  DEFAULT_EOD_PROMPT,
  DEFAULT_MONTH_PROMPT,
  DEFAULT_PROJECT_PROMPT,
  DEFAULT_ROLLOVER_PROMPT,
  didYouMean,
  expandHome,
  loadConfig,
  parseConfig,
  projectOrThrow,
  resolveConfigPath,
  unknownProjectMessage,
} from '../src/config';
import { formatDuration, parseDuration, tryParseDuration } from '../src/lib/duration';

const CFG = '/cfg/workspaces.toml';
const HOME = os.homedir();
const SYSTEM_TZ = Intl.DateTimeFormat().resolvedOptions().timeZone;

function parse(toml: string, configPath = CFG): Config {
  return parseConfig(toml, configPath);
}

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError, but nothing was thrown');
}

async function asyncErrorOf(p: Promise<unknown>): Promise<ConfigError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError, but nothing was thrown');
}

describe('defaults', () => {
  test('an empty file is a valid, empty registry with every default applied', () => {
    expect(parse('')).toEqual({
      configPath: CFG,
      orchestrator: {
        taskQueue: 'orchestrate',
        stateDir: path.join(HOME, '.orchestrate'),
        timezone: SYSTEM_TZ,
        concurrency: 4,
        persistent: [],
        killGraceMs: 10_000,
        heartbeatTimeoutMs: 30_000,
        hostWaitMs: 120_000,
        usageLimitMarginMs: 120_000,
        usageLimitBackoffMs: 1_800_000,
        onShutdown: 'detach',
        host: null,
        tmuxSocket: 'orchestrate',
        sessionPrefix: 'orch-',
        idleSeconds: 30,
      },
      server: { ip: '127.0.0.1', port: 7233, uiPort: 8233, namespace: 'default' },
      schedules: { eod: '23:00', rollover: '06:00', cycleEveryMs: null, catchupWindowMs: 6 * 3_600_000 },
      eod: { prompt: DEFAULT_EOD_PROMPT, worklogPath: 'docs/worklog/{date}.md' },
      rollover: { prompt: DEFAULT_ROLLOVER_PROMPT, monthPrompt: DEFAULT_MONTH_PROMPT },
      notify: { command: null },
      projects: {},
    });
  });

  test('an empty [projects] table is valid too', () => {
    expect(parse('[projects]\n').projects).toEqual({});
  });

  test('a project gets the defaults of [agent], [gates], [eod] and [rollover]', () => {
    const c = parse('[projects.authexis]\npath = "/code/authexis"\n');
    expect(c.projects.authexis).toEqual({
      name: 'authexis',
      path: '/code/authexis',
      prompt: DEFAULT_PROJECT_PROMPT,
      enabled: true,
      host: null,
      worklogPath: 'docs/worklog/{date}.md',
      eodPrompt: DEFAULT_EOD_PROMPT,
      rolloverPrompt: DEFAULT_ROLLOVER_PROMPT,
      inlineSkills: false,
      agent: {
        profile: 'claude',
        command: 'claude',
        args: ['-p', '{prompt}', '--output-format', 'stream-json', '--verbose'],
        timeoutMs: 45 * 60_000,
        exitGraceMs: 30_000,
        stallTimeoutMs: 10 * 60_000,
        outputFormat: 'auto',
        interactiveCommand: 'claude',
        env: {},
        envAllow: null,
        allowPermissionDenials: false,
        account: null,
        resume: true,
      },
      gates: { command: '', timeoutMs: 60_000, workingHours: null, maxDailyUsd: 0 },
      persistent: false,
    });
  });

  test('the default prompts ask for the right things', () => {
    const sections = [
      'What shipped today',
      'Completed',
      'Release progress',
      'Carry-over',
      'Risks',
      'Flags and watch-outs',
      'Next session',
    ];
    const positions = sections.map((s) => DEFAULT_EOD_PROMPT.indexOf(`## ${s}`));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(DEFAULT_EOD_PROMPT).toContain('{worklog_path}');
    expect(DEFAULT_EOD_PROMPT).toMatch(/commit/i);
    expect(DEFAULT_ROLLOVER_PROMPT).toContain('{yesterday}');
    expect(DEFAULT_ROLLOVER_PROMPT).toContain('Next session');
    expect(DEFAULT_MONTH_PROMPT).toContain('{last_month}: N/N closed');
    expect(DEFAULT_MONTH_PROMPT).toContain('{month}');
  });

  test('empty strings switch optional features off', () => {
    const c = parse(`
[orchestrator]
host = ""
[schedules]
eod = ""
rollover = ""
cycle_every = ""
[notify]
command = ""
[gates]
working_hours = ""
`);
    expect(c.orchestrator.host).toBeNull();
    expect(c.schedules).toEqual({ eod: null, rollover: null, cycleEveryMs: null, catchupWindowMs: 6 * 3_600_000 });
    expect(c.notify.command).toBeNull();
  });

  test('every setting can be given', () => {
    const c = parse(`
[orchestrator]
task_queue = "tq"
state_dir = "/var/orchestrate"
timezone = "america/new_york"
concurrency = 8
persistent = ["a", "a"]
kill_grace = 0
on_shutdown = "kill"
host = "mini"
heartbeat_timeout = "1m"
host_wait = "45s"
usage_limit_margin = "0s"
usage_limit_backoff = "10m"
tmux_socket = "orch2"
session_prefix = "agent_"
idle_seconds = 2.5
[server]
ip = "0.0.0.0"
port = 7300
ui_port = 8300
namespace = "ns"
[schedules]
eod = "7:05"
rollover = "05:30"
cycle_every = "30m"
catchup_window = "1h"
[eod]
prompt = "eod {date}"
worklog_path = "log/{date}.md"
[rollover]
prompt = "roll {yesterday}"
month_prompt = "month {month}"
[notify]
command = "notify-send orchestrate"
[projects.a]
path = "/a"
`);
    expect(c.orchestrator).toEqual({
      taskQueue: 'tq',
      stateDir: '/var/orchestrate',
      timezone: 'America/New_York',
      concurrency: 8,
      persistent: ['a'],
      killGraceMs: 0,
      heartbeatTimeoutMs: 60_000,
      hostWaitMs: 45_000,
      usageLimitMarginMs: 0,
      usageLimitBackoffMs: 600_000,
      onShutdown: 'kill',
      host: 'mini',
      tmuxSocket: 'orch2',
      sessionPrefix: 'agent_',
      idleSeconds: 2.5,
    });
    expect(c.server).toEqual({ ip: '0.0.0.0', port: 7300, uiPort: 8300, namespace: 'ns' });
    expect(c.schedules).toEqual({
      eod: '07:05',
      rollover: '05:30',
      cycleEveryMs: 1_800_000,
      catchupWindowMs: 3_600_000,
    });
    expect(c.eod).toEqual({ prompt: 'eod {date}', worklogPath: 'log/{date}.md' });
    expect(c.rollover).toEqual({ prompt: 'roll {yesterday}', monthPrompt: 'month {month}' });
    expect(c.notify.command).toBe('notify-send orchestrate');
    expect(c.projects.a.persistent).toBe(true);
    expect(c.projects.a.worklogPath).toBe('log/{date}.md');
    expect(c.projects.a.eodPrompt).toBe('eod {date}');
    expect(c.projects.a.rolloverPrompt).toBe('roll {yesterday}');
  });
});

describe('paths', () => {
  test('expandHome', () => {
    expect(expandHome('~')).toBe(HOME);
    expect(expandHome('~/code/x')).toBe(path.join(HOME, 'code/x'));
    expect(expandHome('~other/x')).toBe('~other/x');
    expect(expandHome('/abs/~/x')).toBe('/abs/~/x');
    expect(expandHome('rel')).toBe('rel');
  });

  test('~ is expanded in project paths and state_dir', () => {
    const c = parse('[orchestrator]\nstate_dir = "~/state"\n[projects.a]\npath = "~/code/a"\n');
    expect(c.orchestrator.stateDir).toBe(path.join(HOME, 'state'));
    expect(c.projects.a.path).toBe(path.join(HOME, 'code', 'a'));
  });

  test("relative paths are resolved against the config file's folder", () => {
    const c = parse(
      '[orchestrator]\nstate_dir = ".state"\n[projects.a]\npath = "../code/a"\n[projects.b]\npath = "b"\n',
      '/srv/conf/workspaces.toml',
    );
    expect(c.orchestrator.stateDir).toBe('/srv/conf/.state');
    expect(c.projects.a.path).toBe('/srv/code/a');
    expect(c.projects.b.path).toBe('/srv/conf/b');
  });

  test('a relative config path is made absolute against the current folder', () => {
    const c = parse('[projects.a]\npath = "a"\n', 'conf/workspaces.toml');
    expect(c.configPath).toBe(path.resolve('conf/workspaces.toml'));
    expect(c.projects.a.path).toBe(path.resolve('conf/a'));
  });

  test('worklog_path stays relative to the project folder', () => {
    const c = parse('[projects.a]\npath = "/a"\nworklog_path = "notes/{date}.md"\n');
    expect(c.projects.a.worklogPath).toBe('notes/{date}.md');
  });
});

describe('project overrides', () => {
  const c = parse(`
[agent]
command = "claude-wrapper"
args = ["--print", "--prompt={prompt}"]
timeout = "30m"
exit_grace = "10s"
stall_timeout = "20m"
env = { SHARED = "1", OVERRIDDEN = "base" }

[gates]
command = "true"
timeout = "15s"
working_hours = "08:00-20:00"
max_daily_usd = 10

[eod]
worklog_path = "log/{date}.md"

[projects.a]
path = "/a"
prompt = "Do the thing."
enabled = false
host = "mini"
worklog_path = "notes/{date}.md"
eod_prompt = "EOD for a"
rollover_prompt = "Rollover for a"
inline_skills = ["deploy", "review"]

[projects.a.agent]
timeout = "2h"
exit_grace = "0s"
stall_timeout = ""
output_format = "stream-json"
env = { OVERRIDDEN = "a", OWN = "x" }

[projects.a.gates]
working_hours = "22:00-06:00"
max_daily_usd = 2.5

[projects.b]
path = "/b"
inline_skills = true
`);

  test('project agent keys merge over [agent], env key by key', () => {
    expect(c.projects.a.agent).toEqual({
      profile: 'claude',
      command: 'claude-wrapper',
      args: ['--print', '--prompt={prompt}'],
      timeoutMs: 2 * 3_600_000,
      exitGraceMs: 0,
      stallTimeoutMs: null,
      outputFormat: 'stream-json',
      interactiveCommand: 'claude',
      env: { SHARED: '1', OVERRIDDEN: 'a', OWN: 'x' },
      envAllow: null,
      allowPermissionDenials: false,
      account: null,
      resume: true,
    });
    expect(c.projects.b.agent).toEqual({
      profile: 'claude',
      command: 'claude-wrapper',
      args: ['--print', '--prompt={prompt}'],
      timeoutMs: 30 * 60_000,
      exitGraceMs: 10_000,
      stallTimeoutMs: 20 * 60_000,
      outputFormat: 'auto',
      interactiveCommand: 'claude',
      env: { SHARED: '1', OVERRIDDEN: 'base' },
      envAllow: null,
      allowPermissionDenials: false,
      account: null,
      resume: true,
    });
  });

  test('project gates merge over [gates]', () => {
    expect(c.projects.a.gates).toEqual({
      command: 'true',
      timeoutMs: 15_000,
      workingHours: { start: '22:00', end: '06:00' },
      maxDailyUsd: 2.5,
    });
    expect(c.projects.b.gates).toEqual({
      command: 'true',
      timeoutMs: 15_000,
      workingHours: { start: '08:00', end: '20:00' },
      maxDailyUsd: 10,
    });
  });

  test('project settings, and fallbacks to [eod]/[rollover]', () => {
    const a = c.projects.a;
    expect([a.prompt, a.enabled, a.host, a.worklogPath, a.eodPrompt, a.rolloverPrompt, a.inlineSkills]).toEqual([
      'Do the thing.',
      false,
      'mini',
      'notes/{date}.md',
      'EOD for a',
      'Rollover for a',
      ['deploy', 'review'],
    ]);
    const b = c.projects.b;
    expect([b.worklogPath, b.eodPrompt, b.rolloverPrompt, b.inlineSkills]).toEqual([
      'log/{date}.md',
      DEFAULT_EOD_PROMPT,
      DEFAULT_ROLLOVER_PROMPT,
      true,
    ]);
  });

  test('projects do not share (mutable) settings objects', () => {
    c.projects.a.agent.env.MUTATED = 'yes';
    c.projects.b.agent.args.push('x');
    const again = parse('[projects.a]\npath = "/a"\n[projects.b]\npath = "/b"\n');
    again.projects.a.agent.args.push('--extra');
    again.projects.a.agent.env.X = '1';
    expect(again.projects.b.agent.args).toEqual(['-p', '{prompt}', '--output-format', 'stream-json', '--verbose']);
    expect(again.projects.b.agent.env).toEqual({});
    expect(parse('').projects).toEqual({});
  });
});

describe('durations', () => {
  test.each<[string | number, number]>([
    ['90s', 90_000],
    ['45m', 2_700_000],
    ['1h30m', 5_400_000],
    ['2h', 7_200_000],
    ['500ms', 500],
    ['1m30s', 90_000],
    ['1h 30m', 5_400_000],
    ['1.5h', 5_400_000],
    ['1d', 86_400_000],
    ['0s', 0],
    ['90', 90_000],
    [90, 90_000],
    [0, 0],
  ])('parseDuration(%p) = %p ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
    expect(tryParseDuration(input)).toBe(ms);
  });

  test.each<string | number>(['45x', '', 'h', '1h30', '-5s', '1.5', 'ms', 'm5', -1, 1.5, Number.NaN])(
    '%p is not a duration',
    (input) => {
      expect(tryParseDuration(input)).toBeNull();
      expect(() => parseDuration(input)).toThrow('is not a duration (use e.g. "90s", "45m", "1h30m")');
    },
  );

  test.each<[number, string]>([
    [0, '0s'],
    [500, '500ms'],
    [90_000, '1m30s'],
    [2_700_000, '45m'],
    [5_400_000, '1h30m'],
    [86_400_000, '24h'],
    [3_661_001, '1h1m1s1ms'],
    [-90_000, '-1m30s'],
  ])('formatDuration(%p) = %p', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
    if (ms >= 0) expect(parseDuration(text)).toBe(ms);
  });

  test('durations in the config, including bare seconds', () => {
    const c = parse('[orchestrator]\nkill_grace = 5\n[agent]\ntimeout = "1h30m"\n[gates]\ntimeout = "500ms"\n');
    expect(c.orchestrator.killGraceMs).toBe(5_000);
    expect(c.projects).toEqual({});
    const p = parse('[agent]\ntimeout = "1h30m"\n[gates]\ntimeout = "500ms"\n[projects.a]\npath = "/a"\n').projects.a;
    expect([p.agent.timeoutMs, p.gates.timeoutMs]).toEqual([5_400_000, 500]);
  });
});

describe('malformed files', () => {
  const cases: [string, string, string][] = [
    [
      'unknown key with a hint',
      '[projects.authexis]\npth = "~/code/authexis"\n',
      `${CFG} is invalid (1 problem):
  - projects.authexis.pth: unknown key "pth" (did you mean "path"?)`,
    ],
    [
      'unknown keys at every level, with hints by prefix and distance, or none',
      `project = 1
[orchestrator]
concurency = 2
wibble_wobble = 1
[agent]
time = "1m"
[projects.a]
path = "/a"
[projects.a.gates]
max_daily = 1
`,
      `${CFG} is invalid (5 problems):
  - orchestrator.concurency: unknown key "concurency" (did you mean "concurrency"?)
  - orchestrator.wibble_wobble: unknown key "wibble_wobble"
  - agent.time: unknown key "time" (did you mean "timeout"?)
  - projects.a.gates.max_daily: unknown key "max_daily" (did you mean "max_daily_usd"?)
  - project: unknown key "project" (did you mean "projects"?)`,
    ],
    [
      'bad duration',
      '[agent]\ntimeout = "45x"\n',
      `${CFG} is invalid (1 problem):
  - agent.timeout: "45x" is not a duration (use e.g. "90s", "45m", "1h30m")`,
    ],
    [
      'zero and wrongly typed durations',
      '[agent]\ntimeout = "0s"\n[gates]\ntimeout = true\n[schedules]\ncycle_every = "soon"\ncatchup_window = -1\n',
      `${CFG} is invalid (4 problems):
  - agent.timeout: must be longer than zero (got "0s")
  - gates.timeout: expected a duration (e.g. "45m") or a whole number of seconds, got a boolean
  - schedules.cycle_every: "soon" is not a duration (use e.g. "90s", "45m", "1h30m", or "" to disable)
  - schedules.catchup_window: -1 is not a duration (use e.g. "90s", "45m", "1h30m")`,
    ],
    [
      'bad timezone',
      '[orchestrator]\ntimezone = "Europe/Lndon"\n',
      `${CFG} is invalid (1 problem):
  - orchestrator.timezone: "Europe/Lndon" is not an IANA time zone (e.g. "Europe/London")`,
    ],
    [
      'bad times of day and working hours',
      '[schedules]\neod = "24:00"\nrollover = "6am"\n[gates]\nworking_hours = "8-20"\n[projects.a]\npath = "/a"\n[projects.a.gates]\nworking_hours = "09:00-09:00"\n',
      `${CFG} is invalid (4 problems):
  - gates.working_hours: "8-20" is not a time range (use "HH:MM-HH:MM", e.g. "08:00-20:00", or "" for always)
  - schedules.eod: "24:00" is not a time of day (use 24-hour HH:MM, e.g. "23:00", or "" to disable)
  - schedules.rollover: "6am" is not a time of day (use 24-hour HH:MM, e.g. "23:00", or "" to disable)
  - projects.a.gates.working_hours: "09:00-09:00" is an empty range (start equals end; use "" for always)`,
    ],
    [
      'an unquoted TOML time',
      '[schedules]\neod = 23:00:00\n',
      `${CFG} is invalid (1 problem):
  - schedules.eod: expected a string, got a TOML date/time (put times in quotes, e.g. "23:00")`,
    ],
    [
      'wrong types',
      `agent = "claude"
[orchestrator]
concurrency = "4"
persistent = "a"
[server]
port = 70000
ui_port = 80.5
[gates]
max_daily_usd = -1
[projects.a]
path = 1
enabled = "yes"
inline_skills = "all"
[projects.b]
path = "/b"
inline_skills = ["ok", 3]
[projects.c]
path = "/c"
agent = { env = { TOKEN = 42 } }
`,
      `${CFG} is invalid (11 problems):
  - orchestrator.concurrency: expected an integer from 1 to 256, got a string
  - orchestrator.persistent: expected an array, got a string
  - server.port: expected an integer from 1 to 65535, got 70000
  - server.ui_port: expected an integer from 1 to 65535, got 80.5
  - agent: expected a table, got a string
  - gates.max_daily_usd: expected a number >= 0, got -1
  - projects.a.path: expected a string, got an integer
  - projects.a.enabled: expected a boolean (true or false), got a string
  - projects.a.inline_skills: expected true, false or an array of skill names, got a string
  - projects.b.inline_skills: expected true, false or an array of skill names, got an array
  - projects.c.agent.env.TOKEN: expected a string, got an integer`,
    ],
    [
      'bad enums, args without {prompt}, bad env names',
      '[orchestrator]\non_shutdown = "stop"\n[agent]\nargs = ["-p"]\noutput_format = "xml"\nenv = { "MY VAR" = "x" }\n',
      `${CFG} is invalid (4 problems):
  - orchestrator.on_shutdown: "stop" is not one of "detach", "kill"
  - agent.args: must contain "{prompt}" (as a whole argument or inside one), e.g. ["-p", "{prompt}"]
  - agent.output_format: "xml" is not one of "auto", "json", "stream-json", "text"
  - agent.env."MY VAR": "MY VAR" is not a valid environment variable name`,
    ],
    [
      'tmux names with characters tmux treats specially; idle_seconds not positive',
      '[orchestrator]\ntmux_socket = "a/b"\nsession_prefix = "orch."\nidle_seconds = 0\n',
      `${CFG} is invalid (3 problems):
  - orchestrator.tmux_socket: "a/b" is not a valid tmux socket name (use letters, digits, "-" and "_")
  - orchestrator.session_prefix: "orch." is not a valid session prefix (use letters, digits, "-" and "_")
  - orchestrator.idle_seconds: expected a number > 0, got 0`,
    ],
    [
      'persistent naming an unknown project',
      '[orchestrator]\npersistent = ["authexis", "paulo"]\n[projects.authexis]\npath = "/a"\n[projects.paulos]\npath = "/p"\n',
      `${CFG} is invalid (1 problem):
  - orchestrator.persistent[1]: "paulo" is not a defined project (did you mean "paulos"?)`,
    ],
    [
      'persistent with no projects at all',
      '[orchestrator]\npersistent = ["paulos"]\n',
      `${CFG} is invalid (1 problem):
  - orchestrator.persistent[0]: "paulos" is not a defined project (no projects are defined)`,
    ],
    [
      'bad project names',
      '[projects."my app"]\npath = "/a"\n[projects._hidden]\npath = "/h"\n',
      `${CFG} is invalid (2 problems):
  - projects."my app": invalid project name "my app": names must match /^[A-Za-z0-9][A-Za-z0-9._-]*$/ (they become workflow IDs and tmux session names)
  - projects._hidden: invalid project name "_hidden": names must match /^[A-Za-z0-9][A-Za-z0-9._-]*$/ (they become workflow IDs and tmux session names)`,
    ],
    [
      'missing and empty project path',
      '[projects.authexis]\nprompt = "go"\n[projects.b]\npath = "  "\n',
      `${CFG} is invalid (2 problems):
  - projects.authexis.path: required key is missing: the project's folder, e.g. path = "~/code/authexis"
  - projects.b.path: must not be empty`,
    ],
    [
      'a project that is not a table',
      '[projects]\nauthexis = "~/code/authexis"\n',
      `${CFG} is invalid (1 problem):
  - projects.authexis: expected a table, got a string`,
    ],
    [
      'TOML syntax error',
      '[orchestrator]\nconcurrency = 4\ntask_queue = \n',
      `${CFG} is invalid (1 problem):
  - TOML syntax error at line 3, column 14: invalid value
    2:  concurrency = 4
    3:  task_queue = 
                     ^`,
    ],
    [
      'TOML duplicate key',
      '[orchestrator]\nconcurrency = 4\nconcurrency = 5\n',
      `${CFG} is invalid (1 problem):
  - TOML syntax error at line 3, column 1: trying to redefine an already defined table or value
    2:  concurrency = 4
    3:  concurrency = 5
        ^`,
    ],
    [
      'several problems at once, all reported',
      '[orchestrator]\ntimezone = "Europe/Lndon"\n[projects.authexis]\npth = "~/code/authexis"\n',
      `${CFG} is invalid (2 problems):
  - orchestrator.timezone: "Europe/Lndon" is not an IANA time zone (e.g. "Europe/London")
  - projects.authexis.pth: unknown key "pth" (did you mean "path"?)`,
    ],
  ];

  test.each(cases)('%s', (_name, toml, expected) => {
    const err = errorOf(() => parse(toml));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('ConfigError');
    expect(err.configPath).toBe(CFG);
    expect(err.message).toBe(expected);
    expect(err.problems.length).toBe(Number(/\((\d+) problems?\)/.exec(expected)?.[1]));
  });

  test('problems carry their key path and message separately', () => {
    const err = errorOf(() => parse('[agent]\ntimeout = "45x"\n[projects.a]\npth = "/a"\n'));
    expect(err.problems).toEqual([
      { path: 'agent.timeout', message: '"45x" is not a duration (use e.g. "90s", "45m", "1h30m")' },
      { path: 'projects.a.pth', message: 'unknown key "pth" (did you mean "path"?)' },
    ]);
  });

  test('env values never appear in messages', () => {
    const err = errorOf(() => parse('[agent]\nenv = { TOKEN = 123456789, OK = "sk-secret" }\nargs = ["x"]\n'));
    expect(err.message).not.toContain('123456789');
    expect(err.message).not.toContain('sk-secret');
  });

  test('a syntax error shows the file around it at the terminal, but never in what reaches workflow histories', () => {
    const err = errorOf(() => parse('[agent.env]\nAPI_KEY = sk-live-123\n'));
    expect(err.message).toContain('2:  API_KEY = sk-live-123');
    expect(err.messageWithoutExcerpt).toBe(`${CFG} is invalid (1 problem):
  - TOML syntax error at line 2, column 11: invalid value`);
    const plain = errorOf(() => parse('[agent]\ntimeout = "45x"\n'));
    expect(plain.messageWithoutExcerpt).toBe(plain.message);
  });
});

describe('loadConfig and resolveConfigPath', () => {
  let dir: string;
  const savedEnv = process.env.ORCHESTRATE_CONFIG;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'orchestrate-config-'));
    delete process.env.ORCHESTRATE_CONFIG;
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    if (savedEnv === undefined) delete process.env.ORCHESTRATE_CONFIG;
    else process.env.ORCHESTRATE_CONFIG = savedEnv;
  });

  test('resolveConfigPath: explicit > ORCHESTRATE_CONFIG > ./workspaces.toml', () => {
    expect(resolveConfigPath()).toBe(path.resolve('workspaces.toml'));
    expect(resolveConfigPath('')).toBe(path.resolve('workspaces.toml'));
    process.env.ORCHESTRATE_CONFIG = '/etc/orchestrate/w.toml';
    expect(resolveConfigPath()).toBe('/etc/orchestrate/w.toml');
    expect(resolveConfigPath('/explicit/w.toml')).toBe('/explicit/w.toml');
    expect(resolveConfigPath('rel/w.toml')).toBe(path.resolve('rel/w.toml'));
    expect(resolveConfigPath('~/w.toml')).toBe(path.join(HOME, 'w.toml'));
    process.env.ORCHESTRATE_CONFIG = '';
    expect(resolveConfigPath()).toBe(path.resolve('workspaces.toml'));
  });

  test('loads a file and resolves paths against its folder', async () => {
    const file = path.join(dir, 'workspaces.toml');
    fs.writeFileSync(file, '\uFEFF[projects.a]\npath = "code/a"\n');
    const c = await loadConfig(file);
    expect(c.configPath).toBe(file);
    expect(c.projects.a.path).toBe(path.join(dir, 'code', 'a'));
    process.env.ORCHESTRATE_CONFIG = file;
    expect((await loadConfig()).projects.a.path).toBe(path.join(dir, 'code', 'a'));
  });

  test('loading again: an unchanged file gives the same frozen config; any edit is seen at once', async () => {
    const file = path.join(dir, 'workspaces.toml');
    fs.writeFileSync(file, '[projects.a]\npath = "code/a"\n');
    const first = await loadConfig(file);
    const second = await loadConfig(file);
    expect(second).toBe(first);
    // Shared, so frozen: no caller can change it for the others.
    expect(() => {
      second.projects.a.path = '/mutated';
    }).toThrow(TypeError);
    expect((await loadConfig(file)).projects.a.path).toBe(path.join(dir, 'code', 'a'));
    // Same size, same mtime second: the cache is keyed by content, not by stat.
    const { mtime } = fs.statSync(file);
    fs.writeFileSync(file, '[projects.b]\npath = "code/b"\n');
    fs.utimesSync(file, mtime, mtime);
    expect(Object.keys((await loadConfig(file)).projects)).toEqual(['b']);
    fs.writeFileSync(file, '[projects.b]\npath = 7\n');
    await expect(loadConfig(file)).rejects.toThrow(/projects\.b\.path/);
  });

  test('a missing file says which path was tried and how to create one', async () => {
    const file = path.join(dir, 'nope.toml');
    const err = await asyncErrorOf(loadConfig(file));
    expect(err.message).toBe(
      `No config file at ${file} (the path given). Create one with "orchestrate init", or copy workspaces.example.toml from the orchestrate repository to ${file} and edit it.`,
    );
    expect(err.configPath).toBe(file);
    expect(err.problems).toEqual([{ path: '', message: err.message }]);

    process.env.ORCHESTRATE_CONFIG = file;
    expect((await asyncErrorOf(loadConfig())).message).toContain(`No config file at ${file} (from ORCHESTRATE_CONFIG)`);
  });

  test('an invalid file throws ConfigError naming the file', async () => {
    const file = path.join(dir, 'workspaces.toml');
    fs.writeFileSync(file, '[agent]\ntimeout = "45x"\n');
    const err = await asyncErrorOf(loadConfig(file));
    expect(err.message).toBe(
      `${file} is invalid (1 problem):\n  - agent.timeout: "45x" is not a duration (use e.g. "90s", "45m", "1h30m")`,
    );
  });

  test('an unreadable path (a folder) is a ConfigError too', async () => {
    const err = await asyncErrorOf(loadConfig(dir));
    expect(err.message).toMatch(/^Cannot read config file /);
  });
});

describe('projectOrThrow', () => {
  const c = parse('[projects.authexis]\npath = "/a"\n[projects.paulos]\npath = "/p"\n');

  test('returns the project', () => {
    expect(projectOrThrow(c, 'paulos').path).toBe('/p');
  });

  test('unknown project: did-you-mean and the known projects', () => {
    const err = errorOf(() => projectOrThrow(c, 'authexsi'));
    expect(err.message).toBe(
      `Unknown project "authexsi" (did you mean "authexis"?). Projects in ${CFG}: authexis, paulos.`,
    );
    expect(err.problems).toEqual([{ path: 'projects.authexsi', message: err.message }]);
    expect(errorOf(() => projectOrThrow(c, 'zzzzzzzzzz')).message).toBe(
      `Unknown project "zzzzzzzzzz". Projects in ${CFG}: authexis, paulos.`,
    );
    expect(errorOf(() => projectOrThrow(c, 'constructor')).message).toContain('Unknown project "constructor"');
  });

  test('no projects defined', () => {
    expect(errorOf(() => projectOrThrow(parse(''), 'x')).message).toBe(
      `Unknown project "x": ${CFG} defines no projects (add a [projects.<name>] table with a path).`,
    );
  });

  test('several unknown projects: one message, a hint for each', () => {
    expect(unknownProjectMessage(c, ['authexsi', 'zzzzzzzzzz', 'paulo'])).toBe(
      `Unknown projects "authexsi" (did you mean "authexis"?), "zzzzzzzzzz", "paulo" (did you mean "paulos"?). Projects in ${CFG}: authexis, paulos.`,
    );
    expect(unknownProjectMessage(c, ['paulo'])).toBe(unknownProjectMessage(c, 'paulo'));
  });
});

describe('didYouMean', () => {
  test.each<[string, string[], string | null]>([
    ['pth', ['path', 'prompt'], 'path'],
    ['Path', ['path'], 'path'],
    ['max_daily', ['max_daily_usd', 'command'], 'max_daily_usd'],
    ['interactive', ['interactive_command', 'command'], 'interactive_command'],
    ['wibble_wobble', ['path', 'prompt'], null],
    ['x', [], null],
  ])('%p among %p → %p', (word, candidates, expected) => {
    expect(didYouMean(word, candidates)).toBe(expected);
  });
});

describe('workspaces.example.toml', () => {
  const examplePath = path.join(__dirname, '..', 'workspaces.example.toml');
  const text = fs.readFileSync(examplePath, 'utf8');

  test('parses, with two example projects', () => {
    const c = parseConfig(text, examplePath);
    expect(Object.keys(c.projects)).toEqual(['authexis', 'paulos']);
    expect(c.projects.paulos.persistent).toBe(true);
    expect(c.projects.authexis.agent.timeoutMs).toBe(5_400_000);
    expect(c.projects.authexis.gates.workingHours).toEqual({ start: '08:00', end: '20:00' });
  });

  test('uncommenting its commented-out settings still parses', () => {
    const uncommented = text.replace(/^# ([a-z_]+ = ".*)$/gm, '$1');
    expect(uncommented).not.toBe(text);
    const c = parseConfig(uncommented, examplePath);
    expect(c.orchestrator.timezone).toBe('Europe/London');
    expect(c.projects.authexis.eodPrompt).toBe('...');
  });

  test('documents every key of the schema', () => {
    // From the schema itself: a key added to src/config/ fails here until the example documents it.
    const { 'projects.<name>': projectKeys, ...tables } = configKeys();
    expect(tables.orchestrator).toContain('transient_backoff');
    tables['projects.authexis'] = projectKeys.filter((k) => k !== 'agent' && k !== 'gates');
    for (const [table, keys] of Object.entries(tables)) {
      const start = text.indexOf(`\n[${table}]\n`);
      expect(start).toBeGreaterThanOrEqual(0);
      const next = text.indexOf('\n[', start + 1);
      const body = text.slice(start, next === -1 ? undefined : next);
      for (const key of keys) {
        // The key appears (set or commented out) right after a comment line describing it.
        expect({ table, key, documented: new RegExp(`#.*\\n#? ?${key} = `).test(body) }).toEqual({
          table,
          key,
          documented: true,
        });
      }
    }
    expect(text).toContain('[projects.authexis.agent]');
    expect(text).toContain('[projects.authexis.gates]');
  });
});

describe('files that are not TOML text', () => {
  const p = path;
  const dir = fs.mkdtempSync(p.join(os.tmpdir(), 'cfg-bytes-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('invalid UTF-8 names the line', async () => {
    const file = p.join(dir, 'latin1.toml');
    fs.writeFileSync(
      file,
      Buffer.concat([
        Buffer.from('[orchestrator]\ntimezone = "Europe/'),
        Buffer.from([0xff, 0xfe]),
        Buffer.from('London"\n'),
      ]),
    );
    await expect(loadConfig(file)).rejects.toThrow(`${file} is not valid UTF-8 (line 2) — save it as UTF-8`);
  });

  test('a huge file is refused before it is parsed', async () => {
    const file = p.join(dir, 'huge.toml');
    fs.writeFileSync(file, '# ' + 'x'.repeat(5 * 1024 * 1024) + '\n');
    await expect(loadConfig(file)).rejects.toThrow(
      /is 5\.0 MB; a workspaces.toml is a few KB — is this the right file\?/,
    );
  });
});
