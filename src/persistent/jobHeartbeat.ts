// A persistent job's heartbeats: its phase, session and the pane's last line from the start, and once the agent
// works, the pane's pid and what its transcript says so far.
import { HEARTBEAT_EVERY_MS } from '../runner/attempt';
import type { AgentHeartbeatWriter } from '../temporal/types';
import type { PaneWatch } from './paneWatch';
import type { JobMachine } from './phase';
import type { TranscriptProgress } from './progress';
import { lastLine } from './screen';

/** The job's heartbeats: at once, then every HEARTBEAT_EVERY_MS and on polls that are due one. */
export class Heartbeat {
  private last = 0;
  private readonly timer: NodeJS.Timeout;
  session: string | undefined;
  watch: PaneWatch | null = null;
  /** The process in the session's pane, once the session is there. */
  pid: number | null = null;
  progress: TranscriptProgress | null = null;

  constructor(
    private readonly send: AgentHeartbeatWriter,
    private readonly socket: string,
    private readonly machine: JobMachine,
  ) {
    this.beat(true);
    this.timer = setInterval(() => this.beat(), HEARTBEAT_EVERY_MS);
  }

  beat(force = false): void {
    if (!force && Date.now() - this.last < HEARTBEAT_EVERY_MS) return;
    this.last = Date.now();
    const screen = this.watch?.lastScreen;
    this.send({
      phase: this.machine.phase,
      session: this.session,
      socket: this.socket,
      lastLine: screen ? lastLine(screen) : '',
      ...(this.pid !== null ? { pid: this.pid } : {}),
      ...this.progress?.progress,
    });
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
