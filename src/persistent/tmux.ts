// A thin adapter over the tmux command line, always on one named server socket (`tmux -L <socket>`), so the
// orchestrator's sessions live on their own server and the user's default tmux server is never touched.
// Targets always use `=name` (an exact session name: plain `-t name` would also match a prefix of a longer name).
import execa from 'execa';
import { promises as fs } from 'node:fs';

/** Session names cannot hold ':' or '.' (tmux would change them): those become '_'. */
export function sanitizeSessionName(name: string): string {
  return name.replace(/[:.]/g, '_');
}

export class TmuxError extends Error {
  constructor(
    message: string,
    readonly args: string[],
    readonly stderr: string,
    readonly exitCode: number | null,
    /** tmux itself is not installed on this host. */
    readonly notInstalled = false,
  ) {
    super(message);
    this.name = 'TmuxError';
  }
}

export interface TmuxSession {
  name: string;
  /** When tmux created the session. */
  createdAt: Date;
  /** Number of clients attached (a person watching). */
  attached: number;
  /** Last activity in the session. */
  activityAt: Date;
  /** Process running in the session's active pane. */
  panePid: number | null;
  paneDead: boolean;
  /** User options (`@name`) read by listSessions, by name without the `@`. */
  options: Record<string, string>;
}

export interface NewSessionSpec {
  name: string;
  cwd: string;
  /** argv, executed directly by tmux (no shell). */
  command: string[];
  width?: number;
  height?: number;
  /** User options set on the session in the same tmux command (`@key` = value). Keys without the `@`. */
  options?: Record<string, string>;
}

const SEP = '\x1f';
/** Bytes of literal text per send-keys call: tmux rejects over-long command messages. */
const SEND_CHUNK = 1000;

/**
 * tmux splits its argv into commands at arguments ending in ';' (and turns a trailing '\;' into ';').
 * Escaping the final ';' as '\;' keeps such an argument literal, whatever comes before it.
 */
export function escapeArg(arg: string): string {
  return arg.endsWith(';') ? `${arg.slice(0, -1)}\\;` : arg;
}

/** Splits text into pieces of at most `size` UTF-16 units, never inside a surrogate pair. */
export function chunkText(text: string, size: number = SEND_CHUNK): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    let end = Math.min(text.length, i + size);
    if (end < text.length) {
      const c = text.charCodeAt(end - 1);
      if (c >= 0xd800 && c <= 0xdbff) end -= 1;
    }
    out.push(text.slice(i, end));
    i = end;
  }
  return out;
}

/** Environment for tmux clients: without TMUX/TMUX_PANE, so a worker running inside tmux is not confused. */
function clientEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && k !== 'TMUX' && k !== 'TMUX_PANE') env[k] = v;
  }
  return env;
}

export class Tmux {
  constructor(
    readonly socket: string,
    readonly bin = 'tmux',
  ) {}

  /** Runs `tmux -L <socket> ...args`; returns stdout. Throws TmuxError on failure. */
  async run(args: string[], opts: { timeoutMs?: number } = {}): Promise<string> {
    const full = ['-L', this.socket, ...args];
    let r;
    try {
      r = await execa(this.bin, full, {
        env: clientEnv(),
        extendEnv: false,
        reject: false,
        stdin: 'ignore',
        timeout: opts.timeoutMs ?? 10_000,
        stripFinalNewline: false,
      });
    } catch (e) {
      throw this.spawnError(e, full);
    }
    if ((r as { errno?: unknown }).errno !== undefined || r.exitCode === undefined) throw this.spawnError(r, full);
    if (r.exitCode !== 0 || r.timedOut) {
      const stderr = r.stderr.trim();
      throw new TmuxError(
        `tmux -L ${this.socket} ${args[0]} failed${r.timedOut ? ' (timed out)' : ''}: ${stderr || `exit ${r.exitCode}`}`,
        full,
        stderr,
        r.exitCode ?? null,
      );
    }
    return r.stdout;
  }

  private spawnError(e: unknown, full: string[]): TmuxError {
    const err = e as { code?: string; message?: string };
    if (err.code === 'ENOENT') {
      return new TmuxError(
        `tmux is not installed on this host (${this.bin} not found on PATH) — install it (e.g. \`apt-get install tmux\` or \`brew install tmux\`): persistent projects run in tmux sessions`,
        full,
        '',
        null,
        true,
      );
    }
    return new TmuxError(`cannot run ${this.bin}: ${err.message ?? String(e)}`, full, '', null);
  }

  /** True when the error only means "no tmux server is running on this socket" (so: no sessions). */
  static isNoServer(e: unknown): boolean {
    return (
      e instanceof TmuxError &&
      /no server running|error connecting to|failed to connect to server|No such file or directory/i.test(e.stderr)
    );
  }

  static isNoSession(e: unknown): boolean {
    return e instanceof TmuxError && /can't find session|no such session|session not found/i.test(e.stderr);
  }

  /** True when new-session failed because a session of that name exists already (made in the meantime). */
  static isDuplicateSession(e: unknown): boolean {
    return e instanceof TmuxError && /duplicate session/i.test(e.stderr);
  }

  /** Every session on this socket's server; [] when no server runs. `optionNames`: user options to read. */
  async listSessions(optionNames: string[] = []): Promise<TmuxSession[]> {
    const fields = [
      '#{session_name}',
      '#{session_created}',
      '#{session_attached}',
      '#{session_activity}',
      '#{pane_pid}',
      '#{pane_dead}',
      ...optionNames.map((o) => `#{@${o}}`),
    ];
    let out: string;
    try {
      out = await this.run(['list-sessions', '-F', fields.join(SEP)]);
    } catch (e) {
      if (Tmux.isNoServer(e)) return [];
      throw e;
    }
    return out
      .split('\n')
      .filter((l) => l.length > 0)
      .map((line) => {
        const f = line.split(SEP);
        const options: Record<string, string> = {};
        optionNames.forEach((o, i) => (options[o] = f[6 + i] ?? ''));
        const pid = Number(f[4]);
        return {
          name: f[0],
          createdAt: new Date(Number(f[1]) * 1000),
          attached: Number(f[2]) || 0,
          activityAt: new Date(Number(f[3]) * 1000),
          panePid: Number.isInteger(pid) && pid > 0 ? pid : null,
          paneDead: f[5] === '1',
          options,
        };
      });
  }

  async session(name: string, optionNames: string[] = []): Promise<TmuxSession | null> {
    return (await this.listSessions(optionNames)).find((s) => s.name === name) ?? null;
  }

  async hasSession(name: string): Promise<boolean> {
    try {
      await this.run(['has-session', '-t', `=${escapeArg(name)}`]);
      return true;
    } catch (e) {
      if (Tmux.isNoServer(e) || Tmux.isNoSession(e)) return false;
      throw e;
    }
  }

  /** Creates a detached session running `command` in `cwd`, with its user options set in the same command. */
  async newSession(spec: NewSessionSpec): Promise<void> {
    const args = ['new-session', '-d', '-s', escapeArg(spec.name), '-c', escapeArg(spec.cwd)];
    if (spec.width) args.push('-x', String(spec.width));
    if (spec.height) args.push('-y', String(spec.height));
    args.push('--', ...spec.command.map(escapeArg));
    for (const [k, v] of Object.entries(spec.options ?? {})) {
      args.push(';', 'set-option', '-t', `=${escapeArg(spec.name)}:`, `@${k}`, escapeArg(v));
    }
    await this.run(args);
  }

  /** Kills one session; false if it was already gone. */
  async killSession(name: string): Promise<boolean> {
    try {
      await this.run(['kill-session', '-t', `=${escapeArg(name)}`]);
      return true;
    } catch (e) {
      if (Tmux.isNoServer(e) || Tmux.isNoSession(e)) return false;
      throw e;
    }
  }

  /** Stops this socket's whole server (tests only: it ends every session on the socket), socket file included. */
  async killServer(): Promise<void> {
    let socketPath = '';
    try {
      socketPath = (await this.run(['display-message', '-p', '#{socket_path}'])).trim();
      await this.run(['kill-server']);
    } catch (e) {
      if (!Tmux.isNoServer(e)) throw e;
    }
    // tmux leaves the socket file behind.
    if (socketPath) await fs.rm(socketPath, { force: true });
  }

  /** Types `text` into the session's active pane literally: no key names, no shell, in chunks. */
  async sendLiteral(session: string, text: string): Promise<void> {
    for (const chunk of chunkText(text)) {
      await this.run(['send-keys', '-t', paneTarget(session), '-l', '--', escapeArg(chunk)]);
    }
  }

  /** Sends key names (`Enter`, `Escape`, `C-c`, `C-u`) to the session's active pane. */
  async sendKeys(session: string, ...keys: string[]): Promise<void> {
    await this.run(['send-keys', '-t', paneTarget(session), ...keys]);
  }

  /**
   * The active pane's text, wrapped lines joined, no escape sequences. `historyLines`: also that many lines of
   * scrollback above the visible screen.
   */
  async capturePane(session: string, opts: { historyLines?: number } = {}): Promise<string> {
    const args = ['capture-pane', '-p', '-J', '-t', paneTarget(session)];
    if (opts.historyLines) args.push('-S', `-${opts.historyLines}`);
    return this.run(args);
  }

  async setOption(session: string, key: string, value: string): Promise<void> {
    await this.run(['set-option', '-t', paneTarget(session), `@${key}`, escapeArg(value)]);
  }
}

/** The active pane of the session named exactly `session`. */
function paneTarget(session: string): string {
  return `=${escapeArg(session)}:`;
}
