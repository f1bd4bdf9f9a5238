// Long waits show progress: on a terminal a spinner with the elapsed time, redrawn in place and cleared at the
// end; on a pipe plain lines only (one at the start, one a minute later), never an escape code.
import { formatElapsed } from '../src/lib/duration';
import { Progress } from '../src/cli/render/progress';

const ESC = String.fromCharCode(27);

function stream(isTTY: boolean): NodeJS.WriteStream & { text: () => string } {
  const chunks: string[] = [];
  return {
    isTTY,
    write: (s: string) => (chunks.push(s), true),
    text: () => chunks.join(''),
  } as unknown as NodeJS.WriteStream & { text: () => string };
}

beforeEach(() => jest.useFakeTimers({ now: new Date('2026-11-30T12:00:00Z') }));
afterEach(() => jest.useRealTimers());

test('formatElapsed', () => {
  expect(formatElapsed(0)).toBe('0s');
  expect(formatElapsed(59_999)).toBe('59s');
  expect(formatElapsed(61_000)).toBe('1m01s');
  expect(formatElapsed(3_723_000)).toBe('1h02m');
});

/** Runs fn with these variables set (undefined: unset), then puts the old values back. */
function withEnv(vars: Record<string, string | undefined>, fn: () => void): void {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const apply = (v: Record<string, string | undefined>) => {
    for (const [k, x] of Object.entries(v)) {
      if (x === undefined) delete process.env[k];
      else process.env[k] = x;
    }
  };
  apply(vars);
  try {
    fn();
  } finally {
    apply(saved);
  }
}

test('on a terminal: a spinner with label and elapsed time, redrawn in place, cleared by stop', () => {
  withEnv({ NO_COLOR: undefined, TERM: 'xterm' }, () => {
    const out = stream(true);
    const p = new Progress(out);
    p.start('running authexis');
    jest.advanceTimersByTime(2_050);
    p.update('running authexis: agent pid 4242');
    jest.advanceTimersByTime(1_000);
    p.stop();
    const text = out.text();
    expect(text.startsWith(`\r${ESC}[2K⠋ running authexis · 0s`)).toBe(true);
    expect(text).toContain(`\r${ESC}[2K`);
    expect(text).toMatch(/running authexis · 2s/);
    expect(text).toMatch(/running authexis: agent pid 4242 · 3s/);
    expect(text.endsWith(`\r${ESC}[2K`)).toBe(true);
    const drawn = text.split(`\r${ESC}[2K`).filter(Boolean).length;
    jest.advanceTimersByTime(5_000);
    expect(out.text().split(`\r${ESC}[2K`).filter(Boolean).length).toBe(drawn); // stopped: no more frames
  });
});

test('on a pipe (or with NO_COLOR): plain lines, one at the start and one a minute later, no escapes', () => {
  const out = stream(false);
  const p = new Progress(out);
  p.start('waiting for job/authexis');
  jest.advanceTimersByTime(30_000);
  expect(out.text()).toBe('waiting for job/authexis ...\n');
  jest.advanceTimersByTime(31_000);
  p.stop();
  expect(out.text()).toBe('waiting for job/authexis ...\nwaiting for job/authexis ... 1m00s\n');
  expect(out.text()).not.toContain(ESC);

  withEnv({ NO_COLOR: '1' }, () => {
    const tty = stream(true);
    const q = new Progress(tty);
    q.start('quiet');
    jest.advanceTimersByTime(1_000);
    q.stop();
    expect(tty.text()).toBe('quiet ...\n');
  });
});

test('disabled (e.g. --json): writes nothing', () => {
  const out = stream(true);
  const p = new Progress(out, false);
  p.start('x');
  jest.advanceTimersByTime(120_000);
  p.stop();
  expect(out.text()).toBe('');
});
