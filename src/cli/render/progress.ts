// A one-line "still working" indicator for long waits. On a terminal: a spinner with elapsed time,
// redrawn in place. Elsewhere (CI logs, pipes): one plain line at the start and one a minute after.
import { formatElapsed } from '../../lib/duration';

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export class Progress {
  private timer: NodeJS.Timeout | undefined;
  private started = 0;
  private label = '';
  private frame = 0;
  private readonly tty: boolean;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly enabled = true,
  ) {
    this.tty = Boolean(out.isTTY) && !process.env.NO_COLOR && process.env.TERM !== 'dumb';
  }

  start(label: string): void {
    if (!this.enabled) return;
    this.label = label;
    this.started = Date.now();
    if (this.tty) {
      this.timer = setInterval(() => this.draw(), 100);
      this.draw();
    } else {
      this.out.write(`${label} ...\n`);
      this.timer = setInterval(
        () => this.out.write(`${this.label} ... ${formatElapsed(Date.now() - this.started)}\n`),
        60_000,
      );
    }
    this.timer.unref();
  }

  update(label: string): void {
    this.label = label;
  }

  /** A line of its own above the indicator (always printed, also with the indicator off). */
  note(line: string): void {
    if (this.timer && this.tty) {
      this.out.write(`\r\x1b[2K${line}\n`);
      this.draw();
    } else this.out.write(`${line}\n`);
  }

  stop(): void {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.tty) this.out.write('\r\x1b[2K');
  }

  private draw(): void {
    const f = FRAMES[this.frame++ % FRAMES.length];
    this.out.write(`\r\x1b[2K${f} ${this.label} · ${formatElapsed(Date.now() - this.started)}`);
  }
}
