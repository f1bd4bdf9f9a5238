// Property-based tests of workspaces.toml validation (fast-check): thousands of generated malformed files, each
// of which must give a ConfigError that names the file and the key path of every problem, never a stack trace,
// never another exception, and never a hang (a parse that hangs fails the test on jest's timeout).
import fc from 'fast-check';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { stringify } from 'smol-toml';
import { ConfigError, configKeys, loadConfig, parseConfig } from '../src/config';
import { tryParseDuration } from '../src/lib/duration';

const CFG = '/cfg/props/workspaces.toml';
/** A value that must never be echoed back in an error (it sits in [agent] env, like an API key). */
const SECRET = 'sk-prop-7f3a9c1e5b2d';

type Toml = Record<string, unknown>;
type KeyPath = (string | number)[];
/** The TOML types a generated value can have. */
type TomlType = 'string' | 'int' | 'float' | 'bool' | 'array' | 'table' | 'date';
const TOML_TYPES: readonly TomlType[] = ['string', 'int', 'float', 'bool', 'array', 'table', 'date'];

/** What a mutation did, and the key path (or its prefix) where the error must be reported. */
interface Mutation {
  what: string;
  at: KeyPath;
  apply(doc: Toml): void;
}

// ---------------------------------------------------------------------------------------------------------------
// A valid registry to start from

const projectNameArb = fc.stringMatching(/^[a-z][a-z0-9_-]{0,11}$/);
const plainText = fc.string({ minLength: 1, maxLength: 40 }).filter((s) => s.trim() !== '');

const validDocArb = fc
  .record({
    names: fc.uniqueArray(projectNameArb, { minLength: 1, maxLength: 5 }),
    concurrency: fc.integer({ min: 1, max: 256 }),
    timezone: fc.constantFrom('Europe/London', 'America/New_York', 'Asia/Kolkata', 'UTC', 'Australia/Lord_Howe'),
    prompt: plainText,
    timeout: fc.constantFrom('45m', '1h30m', '90s', 600, '2h'),
    persistentFirst: fc.boolean(),
  })
  .map(({ names, concurrency, timezone, prompt, timeout, persistentFirst }): Toml => {
    const projects: Toml = {};
    for (const name of names) {
      projects[name] = { path: `/srv/code/${name}`, prompt, gates: { max_daily_usd: 5 }, agent: { timeout } };
    }
    return {
      orchestrator: {
        task_queue: 'orchestrate',
        state_dir: '~/.orchestrate',
        timezone,
        concurrency,
        persistent: persistentFirst ? [names[0]] : [],
      },
      server: { port: 7233, namespace: 'default' },
      agent: { command: 'claude', args: ['-p', '{prompt}'], timeout: '45m', env: { API_TOKEN: SECRET } },
      gates: { command: 'test -s TODO.md', working_hours: '08:00-20:00' },
      schedules: { eod: '23:00', rollover: '06:00', cycle_every: '30m' },
      eod: { worklog_path: 'docs/worklog/{date}.md' },
      notify: { command: '' },
      projects,
    };
  });

function projectNames(doc: Toml): string[] {
  return Object.keys(doc.projects as Toml);
}

function getTable(doc: Toml, at: KeyPath): Toml {
  let t: unknown = doc;
  for (const k of at) t = (t as Toml)[k as string];
  return t as Toml;
}

/** Sets a key, creating the tables on its way that the document does not have yet. */
function setAt(doc: Toml, at: KeyPath, value: unknown): void {
  let t = doc;
  for (const k of at.slice(0, -1)) t = (t[k as string] ??= {}) as Toml;
  t[at[at.length - 1] as string] = value;
}

function deleteAt(doc: Toml, at: KeyPath): void {
  delete getTable(doc, at.slice(0, -1))[at[at.length - 1] as string];
}

// ---------------------------------------------------------------------------------------------------------------
// The leaves the mutations aim at: where they are, which TOML types they accept, and values of the right type that
// are still invalid there.

interface Leaf {
  at: (project: string) => KeyPath;
  accepts: readonly TomlType[];
  badValue?: fc.Arbitrary<unknown>;
}

const notADuration = fc
  .oneof(fc.string({ maxLength: 12 }), fc.constantFrom('45x', 'h', '1h30', '-5s', 'm5', '1.5', 'soon', '10 minutes'))
  .filter((s) => tryParseDuration(s) === null);
const notAnInt = fc.oneof(
  fc.integer({ max: 0 }),
  fc.integer({ min: 257, max: 1_000_000 }),
  fc.double({ noNaN: true, min: 0.01, max: 1e9 }).filter((n) => !Number.isInteger(n)),
);
const validTimeZones = new Set(Intl.supportedValuesOf('timeZone'));
const notATimeZone = fc
  .oneof(fc.string({ maxLength: 20 }), fc.constantFrom('Europe/Lndon', 'Mars/Olympus', 'GMT+25', 'London'))
  .filter((s) => {
    if (validTimeZones.has(s)) return false;
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: s });
      return false; // an alias Intl accepts (e.g. "utc") is a valid zone
    } catch {
      return true;
    }
  });
const notATimeOfDay = fc
  .oneof(fc.string({ minLength: 1, maxLength: 8 }), fc.constantFrom('24:00', '23:60', '11pm', '7', '12:5'))
  .filter((s) => s.trim() !== '' && !/^\s*([01]?\d|2[0-3]):[0-5]\d\s*$/.test(s));
const notARange = fc
  .oneof(fc.string({ minLength: 1, maxLength: 14 }), fc.constantFrom('08:00', '8-20', '08:00-08:00', '25:00-26:00'))
  .filter((s) => s.trim() !== '' && !/^\s*([01]?\d|2[0-3]):[0-5]\d\s*-\s*([01]?\d|2[0-3]):[0-5]\d\s*$/.test(s));
const blank = fc.constantFrom('', ' ', '\t', '   ');

const LEAVES: Leaf[] = [
  { at: () => ['orchestrator', 'task_queue'], accepts: ['string'], badValue: blank },
  { at: () => ['orchestrator', 'state_dir'], accepts: ['string'], badValue: blank },
  { at: () => ['orchestrator', 'timezone'], accepts: ['string'], badValue: notATimeZone },
  { at: () => ['orchestrator', 'concurrency'], accepts: ['int'], badValue: notAnInt },
  { at: () => ['orchestrator', 'kill_grace'], accepts: ['string', 'int'], badValue: notADuration },
  {
    at: () => ['orchestrator', 'on_shutdown'],
    accepts: ['string'],
    badValue: fc.string().filter((s) => s !== 'detach' && s !== 'kill'),
  },
  { at: () => ['orchestrator', 'heartbeat_timeout'], accepts: ['string', 'int'], badValue: fc.constant('0s') },
  { at: () => ['orchestrator', 'idle_seconds'], accepts: ['int', 'float'], badValue: fc.integer({ max: 0 }) },
  {
    at: () => ['orchestrator', 'tmux_socket'],
    accepts: ['string'],
    badValue: fc.constantFrom('a/b', 'x:y', 'my.sock', ''),
  },
  {
    at: () => ['server', 'port'],
    accepts: ['int'],
    badValue: fc.oneof(fc.integer({ max: 0 }), fc.integer({ min: 65536 })),
  },
  { at: () => ['server', 'namespace'], accepts: ['string'], badValue: blank },
  { at: () => ['agent', 'command'], accepts: ['string'], badValue: blank },
  {
    at: () => ['agent', 'args'],
    accepts: ['array'],
    badValue: fc.array(
      fc.string().filter((s) => !s.includes('{prompt}')),
      { maxLength: 4 },
    ),
  },
  { at: () => ['agent', 'timeout'], accepts: ['string', 'int'], badValue: notADuration },
  {
    at: () => ['agent', 'output_format'],
    accepts: ['string'],
    badValue: fc.string().filter((s) => !['auto', 'json', 'stream-json', 'text'].includes(s)),
  },
  {
    at: () => ['agent', 'profile'],
    accepts: ['string'],
    badValue: fc.string().filter((s) => !['claude', 'codex', 'gemini', 'custom'].includes(s)),
  },
  { at: () => ['gates', 'command'], accepts: ['string'] },
  { at: () => ['gates', 'working_hours'], accepts: ['string'], badValue: notARange },
  {
    at: () => ['gates', 'max_daily_usd'],
    accepts: ['int', 'float'],
    badValue: fc.double({ max: -0.001, noNaN: true }),
  },
  { at: () => ['schedules', 'eod'], accepts: ['string'], badValue: notATimeOfDay },
  { at: () => ['schedules', 'rollover'], accepts: ['string'], badValue: notATimeOfDay },
  {
    at: () => ['schedules', 'cycle_every'],
    accepts: ['string', 'int'],
    badValue: notADuration.filter((s) => s.trim() !== ''),
  },
  { at: () => ['eod', 'worklog_path'], accepts: ['string'], badValue: blank },
  { at: () => ['notify', 'command'], accepts: ['string'] },
  { at: (p) => ['projects', p, 'path'], accepts: ['string'], badValue: blank },
  { at: (p) => ['projects', p, 'prompt'], accepts: ['string'], badValue: blank },
  { at: (p) => ['projects', p, 'enabled'], accepts: ['bool'] },
  { at: (p) => ['projects', p, 'host'], accepts: ['string'] },
  {
    at: (p) => ['projects', p, 'inline_skills'],
    accepts: ['bool', 'array'],
    badValue: fc.array(blank, { minLength: 1, maxLength: 3 }),
  },
  { at: (p) => ['projects', p, 'agent', 'timeout'], accepts: ['string', 'int'], badValue: notADuration },
  { at: (p) => ['projects', p, 'gates', 'max_daily_usd'], accepts: ['int', 'float'], badValue: fc.constant(-1) },
];

/** The tables a stray key can be put in, with the keys each one knows (from the schema). */
const KEYS = configKeys();
const TABLES: { at: (project: string) => KeyPath; known: readonly string[] }[] = [
  { at: () => [], known: [...Object.keys(KEYS).filter((t) => !t.startsWith('projects.')), 'projects'] },
  ...Object.keys(KEYS)
    .filter((t) => !t.startsWith('projects.'))
    .map((t) => ({ at: () => [t], known: KEYS[t] })),
  { at: (p) => ['projects', p], known: KEYS['projects.<name>'] },
  { at: (p) => ['projects', p, 'agent'], known: KEYS.agent },
  { at: (p) => ['projects', p, 'gates'], known: KEYS.gates },
];

function valueOfType(type: TomlType): fc.Arbitrary<unknown> {
  switch (type) {
    case 'string':
      return fc.string({ maxLength: 20 });
    case 'int':
      return fc.integer({ min: -1_000_000, max: 1_000_000 });
    case 'float':
      return fc
        .double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 })
        .filter((n) => !Number.isInteger(n));
    case 'bool':
      return fc.boolean();
    case 'array':
      return fc.array(fc.integer({ min: -9, max: 99 }), { minLength: 1, maxLength: 3 });
    case 'table':
      return fc.dictionary(fc.stringMatching(/^[a-z]{1,6}$/), fc.integer(), { minKeys: 1, maxKeys: 3 });
    case 'date':
      return fc.date({
        min: new Date('1990-01-01T00:00:00Z'),
        max: new Date('2090-01-01T00:00:00Z'),
        noInvalidDate: true,
      });
  }
}

function mutationArb(names: readonly string[]): fc.Arbitrary<Mutation> {
  const project = fc.constantFrom(...names);
  const wrongType = fc.record({ leaf: fc.constantFrom(...LEAVES), project }).chain(({ leaf, project }) =>
    fc
      .constantFrom(...TOML_TYPES.filter((t) => !leaf.accepts.includes(t)))
      .chain(valueOfType)
      .map((value): Mutation => {
        const at = leaf.at(project);
        return { what: `wrong type at ${at.join('.')}`, at, apply: (d) => setAt(d, at, value) };
      }),
  );
  const badValue = fc
    .record({ leaf: fc.constantFrom(...LEAVES.filter((l) => l.badValue !== undefined)), project })
    .chain(({ leaf, project }) =>
      leaf.badValue!.map((value): Mutation => {
        const at = leaf.at(project);
        return {
          what: `bad value at ${at.join('.')}: ${JSON.stringify(value)}`,
          at,
          apply: (d) => setAt(d, at, value),
        };
      }),
    );
  const unknownKey = fc
    .record({ table: fc.constantFrom(...TABLES), project, key: fc.stringMatching(/^[a-z][a-z_]{0,14}$/) })
    .filter(({ table, key }) => !table.known.includes(key))
    .map(({ table, project, key }): Mutation => {
      const at = [...table.at(project), key];
      return { what: `unknown key ${at.join('.')}`, at, apply: (d) => setAt(d, at, 1) };
    });
  const absentPath = project.map((p): Mutation => ({
    what: `no path for ${p}`,
    at: ['projects', p, 'path'],
    apply: (d) => deleteAt(d, ['projects', p, 'path']),
  }));
  const undefinedPersistent = projectNameArb
    .filter((n) => !names.includes(n))
    .map((n): Mutation => ({
      what: `persistent names undefined project ${n}`,
      at: ['orchestrator', 'persistent'],
      apply: (d) => setAt(d, ['orchestrator', 'persistent'], [n]),
    }));
  const badProjectName = fc
    .constantFrom('my app', '-lead', '.hidden', 'a/b', 'ü', 'x:y', '')
    .filter((n) => !names.includes(n))
    .map((n): Mutation => ({
      what: `project named ${JSON.stringify(n)}`,
      at: ['projects', n],
      apply: (d) => setAt(d, ['projects', n], { path: '/srv/x' }),
    }));
  const badEnvName = fc.constantFrom('1ABC', 'MY-VAR', 'A B', '').map((k): Mutation => ({
    what: `env var named ${JSON.stringify(k)}`,
    at: ['agent', 'env'],
    apply: (d) => ((getTable(d, ['agent', 'env']) as Toml)[k] = 'x'),
  }));
  return fc.oneof(
    { arbitrary: wrongType, weight: 4 },
    { arbitrary: badValue, weight: 4 },
    { arbitrary: unknownKey, weight: 3 },
    { arbitrary: absentPath, weight: 1 },
    { arbitrary: undefinedPersistent, weight: 1 },
    { arbitrary: badProjectName, weight: 1 },
    { arbitrary: badEnvName, weight: 1 },
  );
}

/** A valid document and 1–4 mutations aimed at different keys (so each must be reported on its own). */
const malformedArb = validDocArb.chain((doc) =>
  fc
    .uniqueArray(mutationArb(projectNames(doc)), {
      minLength: 1,
      maxLength: 4,
      // Mutations on one key, or one inside another's key, would hide each other.
      comparator: (a, b) => {
        const [x, y] = [a.at.join('\0'), b.at.join('\0')];
        return x.startsWith(y) || y.startsWith(x);
      },
    })
    .map((mutations) => {
      const copy = structuredClone(doc);
      for (const m of mutations) m.apply(copy);
      return { doc: copy, mutations };
    }),
);

// ---------------------------------------------------------------------------------------------------------------
// What every rejection must look like

function formatKeyPath(at: KeyPath): string {
  let out = '';
  for (const seg of at) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else {
      const key = /^[A-Za-z0-9_-]+$/.test(seg) ? seg : JSON.stringify(seg);
      out += out === '' ? key : `.${key}`;
    }
  }
  return out;
}

function configErrorOf(fn: () => unknown): ConfigError {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  if (thrown === undefined) throw new Error('expected a ConfigError, but the file was accepted');
  if (!(thrown instanceof ConfigError)) throw new Error(`expected a ConfigError, got ${String(thrown)}`);
  return thrown;
}

/**
 * A message a person can act on: names the file, lists problems, carries no stack trace; and what can reach a
 * workflow history or a log (messageWithoutExcerpt) carries no env value. (A syntax error's excerpt of the file,
 * shown at the terminal only, may show any line of it.)
 */
function expectReadable(err: ConfigError, file: string): void {
  expect(err.message).toContain(file);
  expect(err.message).not.toMatch(/\n\s+at .*:\d+:\d+/); // a stack frame
  expect(err.message).not.toMatch(/ZodError|\[object Object\]|TypeError|RangeError/);
  expect(err.messageWithoutExcerpt).toContain(file);
  expect(err.messageWithoutExcerpt).not.toContain(SECRET);
  expect(err.problems.length).toBeGreaterThan(0);
  for (const p of err.problems) {
    expect(p.message.trim()).not.toBe('');
    expect(p.message.split('\n')[0]).not.toContain(SECRET);
  }
}

/** Any text: a valid config, or a ConfigError that expectReadable accepts; any other exception fails. */
function acceptedOrReadable(text: string): void {
  try {
    parseConfig(text, CFG);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    expectReadable(err, CFG);
  }
}

/** The problem for a mutation: at its key path or inside it, or, for a missing key, a misspelling of it nearby. */
function expectReportedAt(err: ConfigError, m: Mutation): void {
  const at = formatKeyPath(m.at);
  const found = err.problems.some(
    (p) =>
      p.path === at ||
      p.path.startsWith(`${at}.`) ||
      p.path.startsWith(`${at}[`) ||
      // A misspelt key next to a missing one is reported once, as the misspelling with its "did you mean" hint.
      (p.message.includes(`did you mean ${JSON.stringify(m.at[m.at.length - 1])}`) &&
        formatKeyPath(m.at.slice(0, -1)) === p.path.split('.').slice(0, -1).join('.')),
  );
  if (!found) {
    throw new Error(`${m.what}: no problem reported at ${at}; got:\n${err.message}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------

describe('generated workspaces.toml files', () => {
  test('the valid base documents parse (so every rejection below is caused by its mutation)', () => {
    fc.assert(
      fc.property(validDocArb, (doc) => {
        const config = parseConfig(stringify(doc), CFG);
        expect(Object.keys(config.projects).sort()).toEqual(projectNames(doc).sort());
      }),
      { numRuns: 100 },
    );
  });

  test('600 files with 1–4 bad types, bad values, unknown keys, absent paths, bad names: every problem reported at once, with its key path', () => {
    fc.assert(
      fc.property(malformedArb, ({ doc, mutations }) => {
        const err = configErrorOf(() => parseConfig(stringify(doc), CFG));
        expectReadable(err, CFG);
        for (const m of mutations) expectReportedAt(err, m);
      }),
      { numRuns: 600 },
    );
  });

  test('a table replaced by a scalar or an array is reported at that table', () => {
    const tables = ['orchestrator', 'server', 'agent', 'gates', 'schedules', 'eod', 'rollover', 'notify', 'projects'];
    fc.assert(
      fc.property(
        validDocArb,
        fc.constantFrom(...tables),
        fc.constantFrom<TomlType>('string', 'int', 'float', 'bool', 'array', 'date').chain(valueOfType),
        (doc, table, value) => {
          doc[table] = value;
          const err = configErrorOf(() => parseConfig(stringify(doc), CFG));
          expectReadable(err, CFG);
          expect(err.problems.map((p) => p.path)).toContain(table);
        },
      ),
      { numRuns: 100 },
    );
  });

  test('a project defined twice is a syntax error naming the line', () => {
    fc.assert(
      fc.property(validDocArb, (doc) => {
        const name = projectNames(doc)[0];
        const text = `${stringify(doc)}\n[projects.${name}]\npath = "/srv/again"\n`;
        const err = configErrorOf(() => parseConfig(text, CFG));
        expectReadable(err, CFG);
        expect(err.problems).toHaveLength(1);
        expect(err.problems[0].message).toMatch(/^TOML syntax error at line \d+, column \d+: /);
      }),
      { numRuns: 50 },
    );
  });

  test('relative project paths are resolved against the config file’s folder, ~ against home', () => {
    fc.assert(
      fc.property(validDocArb, fc.stringMatching(/^[a-z][a-z0-9 _-]{0,10}$/), fc.boolean(), (doc, rel, home) => {
        const name = projectNames(doc)[0];
        (getTable(doc, ['projects', name]) as Toml).path = home ? `~/${rel}` : rel;
        const config = parseConfig(stringify(doc), CFG);
        const expected = home ? path.join(os.homedir(), rel) : path.resolve(path.dirname(CFG), rel);
        expect(config.projects[name].path).toBe(expected);
      }),
      { numRuns: 50 },
    );
  });

  test('arbitrary text: accepted or a ConfigError, never another exception', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), acceptedOrReadable), { numRuns: 300 });
  });

  test('a valid file with characters deleted, inserted or replaced: accepted or a ConfigError, never another exception', () => {
    const edit = fc.record({
      at: fc.nat(),
      remove: fc.nat({ max: 4 }),
      insert: fc.oneof(
        fc.constantFrom('[', ']', '"', '=', '\n', '.', '{', "'''", '#', ','),
        fc.string({ maxLength: 3 }),
      ),
    });
    fc.assert(
      fc.property(validDocArb, fc.array(edit, { minLength: 1, maxLength: 4 }), (doc, edits) => {
        let text = stringify(doc);
        for (const e of edits) {
          const i = e.at % (text.length + 1);
          text = text.slice(0, i) + e.insert + text.slice(i + e.remove);
        }
        acceptedOrReadable(text);
      }),
      { numRuns: 300 },
    );
  });
});

describe('generated files that are not TOML text (through loadConfig)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-props-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  let n = 0;

  test('invalid UTF-8 anywhere: the error names the line, and nothing else is thrown', async () => {
    const badBytes = fc.constantFrom(
      [0xff],
      [0xfe, 0xff],
      [0xc0, 0x80], // overlong
      [0xed, 0xa0, 0x80], // a UTF-16 surrogate
      [0xf8, 0x88, 0x80, 0x80, 0x80], // 5-byte form
      [0x80], // a lone continuation byte
      [0xe2, 0x82, 0x41], // a character cut short
    );
    await fc.assert(
      fc.asyncProperty(validDocArb, fc.nat(), badBytes, async (doc, at, bytes) => {
        const text = stringify(doc);
        const i = at % (text.length + 1);
        const file = path.join(dir, `utf8-${n++}.toml`);
        fs.writeFileSync(
          file,
          Buffer.concat([Buffer.from(text.slice(0, i)), Buffer.from(bytes), Buffer.from(text.slice(i))]),
        );
        const err = await loadConfig(file).then(
          () => null,
          (e: unknown) => e,
        );
        if (!(err instanceof ConfigError)) throw new Error(`expected a ConfigError, got ${String(err)}`);
        expectReadable(err, file);
        const line = text.slice(0, i).split('\n').length;
        expect(err.message).toBe(`${file} is not valid UTF-8 (line ${line}) — save it as UTF-8`);
      }),
      { numRuns: 100 },
    );
  });

  test('huge files are refused before they are parsed', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 4 * 1024 * 1024 + 1, max: 8 * 1024 * 1024 }),
        fc.constantFrom('#', 'x', '[projects.a]\npath = "/a"\n'),
        async (size, filler) => {
          const file = path.join(dir, `huge-${n++}.toml`);
          fs.writeFileSync(file, filler.repeat(Math.ceil(size / filler.length)).slice(0, size));
          const err = await loadConfig(file).then(
            () => null,
            (e: unknown) => e,
          );
          fs.rmSync(file);
          if (!(err instanceof ConfigError)) throw new Error(`expected a ConfigError, got ${String(err)}`);
          expectReadable(err, file);
          expect(err.message).toMatch(/ MB; a workspaces\.toml is a few KB — is this the right file\?$/);
        },
      ),
      { numRuns: 5 },
    );
  });
});
