// Watching a job's pane: captures parsed into Screens, polled until a check is met, with the job's guard (cancel,
// timeout, a dead session) checked and a heartbeat offered on every poll.
import { isIdle, parseScreen, Stillness, type Screen } from './screen';
import { Tmux } from './tmux';

const POLL_MS = 100;

import { sleep } from '../lib/sleep';

/** Why a job stopped waiting early. */
export class Stop extends Error {
  constructor(readonly reason: 'timeout' | 'stalled' | 'cancel' | 'detach' | 'died') {
    super(reason);
  }
}

export class PaneWatch {
  /** The last screen captured, for heartbeats and as the pane log when the session is gone. */
  lastScreen: Screen | null = null;

  constructor(
    private readonly tmux: Tmux,
    private readonly session: string,
    /** Throws Stop when the job must end early. */
    private readonly guard: () => Promise<void>,
    private readonly beat: () => void,
  ) {}

  /** The screen now; Stop('died') when the session (or its server) is gone. */
  async capture(): Promise<Screen> {
    try {
      this.lastScreen = parseScreen(await this.tmux.capturePane(this.session));
      return this.lastScreen;
    } catch (e) {
      if (Tmux.isNoSession(e) || Tmux.isNoServer(e)) throw new Stop('died');
      throw e;
    }
  }

  /** Polls `check` until it returns a value, or `ms` pass (null). Guarded and heartbeating throughout. */
  async pollFor<T>(ms: number, check: (s: Screen) => Promise<T | null> | T | null): Promise<T | null> {
    const until = Date.now() + ms;
    for (;;) {
      await this.guard();
      const v = await check(await this.capture());
      if (v !== null) return v;
      this.beat();
      if (Date.now() >= until) return null;
      await sleep(POLL_MS);
    }
  }

  /**
   * Polls (without end: the guard ends it) until `check` returns a value; `check` is also told how long the
   * screen has been unchanged.
   */
  async pollStill<T>(check: (s: Screen, stillMs: number) => Promise<T | null> | T | null): Promise<T> {
    const still = new Stillness(Date.now());
    const v = await this.pollFor(Infinity, (s) => check(s, still.observe(s.text, Date.now())));
    return v!;
  }

  /** The first screen that has stayed unchanged for `stableMs` and is `accepted`. */
  async waitStable(stableMs: number, accepted: (s: Screen) => boolean = () => true): Promise<Screen> {
    return this.pollStill((s, stillMs) => (accepted(s) && stillMs >= stableMs ? s : null));
  }

  /**
   * Waits up to `ms` for the agent to be idle at its prompt, unguarded (used while stopping it). True when idle
   * or when the session is gone (nothing left to interrupt).
   */
  async settlesIdle(ms: number): Promise<boolean> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      try {
        if (isIdle(parseScreen(await this.tmux.capturePane(this.session)))) return true;
      } catch {
        return true;
      }
      await sleep(POLL_MS);
    }
    return false;
  }
}
