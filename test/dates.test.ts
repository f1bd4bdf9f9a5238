// Rollover's date logic: yesterday, month boundaries, leap days and DST, in the configured timezone.
import {
  addDays,
  dayBounds,
  inWindow,
  isFirstOfMonth,
  isUtcZone,
  localDate,
  localTime,
  monthLabel,
  previousMonthLabel,
  yesterday,
} from '../src/lib/dates';
import { renderPrompt } from '../src/lib/prompts';
import execa from 'execa';
import path from 'node:path';
import { REPO_ROOT } from './helpers/env';

describe('calendar days', () => {
  test.each([
    ['2026-03-01', '2026-02-28'],
    ['2024-03-01', '2024-02-29'], // leap year
    ['2026-01-01', '2025-12-31'],
    ['2026-05-01', '2026-04-30'],
    ['2026-03-30', '2026-03-29'], // the day after the European spring-forward
    ['2026-10-26', '2026-10-25'], // the day after fall-back
  ])('yesterday(%s) = %s', (day, expected) => {
    expect(yesterday(day)).toBe(expected);
  });

  test('addDays crosses years and leap days', () => {
    expect(addDays('2024-02-28', 1)).toBe('2024-02-29');
    expect(addDays('2024-02-29', 1)).toBe('2024-03-01');
    expect(addDays('2025-12-31', 1)).toBe('2026-01-01');
    expect(addDays('2026-01-31', 30)).toBe('2026-03-02');
  });

  test('month boundaries', () => {
    expect(isFirstOfMonth('2026-04-01')).toBe(true);
    expect(isFirstOfMonth('2026-03-31')).toBe(false);
    expect(monthLabel('2026-04-01')).toBe('April 2026');
    expect(previousMonthLabel('2026-04-01')).toBe('March 2026');
    expect(previousMonthLabel('2026-01-01')).toBe('December 2025');
  });
});

describe('today in the timezone', () => {
  test('an instant near midnight UTC is a different day in New York and Tokyo', () => {
    const t = new Date('2026-11-25T02:30:00Z');
    expect(localDate(t, 'UTC')).toBe('2026-11-25');
    expect(localDate(t, 'America/New_York')).toBe('2026-11-24');
    expect(localDate(t, 'Asia/Tokyo')).toBe('2026-11-25');
    expect(localTime(t, 'Asia/Tokyo')).toBe('11:30');
  });

  test('London across DST: 23:30 local is the same local day in summer and winter', () => {
    expect(localDate(new Date('2026-07-01T22:30:00Z'), 'Europe/London')).toBe('2026-07-01');
    expect(localDate(new Date('2026-07-01T23:30:00Z'), 'Europe/London')).toBe('2026-07-02');
    expect(localDate(new Date('2026-12-01T23:30:00Z'), 'Europe/London')).toBe('2026-12-01');
  });

  test('day bounds are 23 h and 25 h long on DST change days', () => {
    const spring = dayBounds('2026-03-29', 'Europe/London');
    expect(spring.start.toISOString()).toBe('2026-03-29T00:00:00.000Z');
    expect((spring.end.getTime() - spring.start.getTime()) / 3_600_000).toBe(23);
    const fall = dayBounds('2026-10-25', 'Europe/London');
    expect(fall.start.toISOString()).toBe('2026-10-24T23:00:00.000Z');
    expect((fall.end.getTime() - fall.start.getTime()) / 3_600_000).toBe(25);
    const ny = dayBounds('2026-11-25', 'America/New_York');
    expect(ny.start.toISOString()).toBe('2026-11-25T05:00:00.000Z');
  });

  test('working hours window, including one that spans midnight', () => {
    const w = { start: '08:00', end: '20:00' };
    expect(inWindow(new Date('2026-07-01T06:59:00Z'), 'Europe/London', w)).toBe(false); // 07:59 BST
    expect(inWindow(new Date('2026-07-01T07:00:00Z'), 'Europe/London', w)).toBe(true); // 08:00 BST
    expect(inWindow(new Date('2026-12-01T19:59:00Z'), 'Europe/London', w)).toBe(true); // 19:59 GMT
    expect(inWindow(new Date('2026-12-01T20:00:00Z'), 'Europe/London', w)).toBe(false);
    const night = { start: '22:00', end: '06:00' };
    expect(inWindow(new Date('2026-12-01T23:00:00Z'), 'UTC', night)).toBe(true);
    expect(inWindow(new Date('2026-12-01T05:59:00Z'), 'UTC', night)).toBe(true);
    expect(inWindow(new Date('2026-12-01T12:00:00Z'), 'UTC', night)).toBe(false);
  });
});

describe('rollover prompt', () => {
  const sources = {
    prompt: 'work',
    eodPrompt: 'Write {worklog_path} for {date}',
    rolloverPrompt: 'Carry {yesterday} into {date}',
    monthPrompt: 'Close {last_month}; open {month}',
    worklogPath: 'docs/worklog/{date}.md',
  };
  test('a normal day carries yesterday only', () => {
    expect(renderPrompt('rollover', sources, '2026-11-25')).toBe('Carry 2026-11-24 into 2026-11-25');
  });
  test('the first of the month also closes last month', () => {
    expect(renderPrompt('rollover', sources, '2026-04-01')).toBe(
      'Carry 2026-03-31 into 2026-04-01\n\nClose March 2026; open April 2026',
    );
    expect(renderPrompt('rollover', sources, '2024-03-01')).toBe(
      'Carry 2024-02-29 into 2024-03-01\n\nClose February 2024; open March 2024',
    );
    expect(renderPrompt('rollover', sources, '2027-01-01')).toContain('Close December 2026; open January 2027');
  });
  test('EOD prompt names the day’s work log', () => {
    expect(renderPrompt('eod', sources, '2026-11-25')).toBe('Write docs/worklog/2026-11-25.md for 2026-11-25');
  });
});

describe('UTC without ICU', () => {
  test('the UTC fast path gives what Intl gives, under every alias', () => {
    const instants = [
      0,
      Date.UTC(2026, 11, 31, 23, 59, 59),
      Date.UTC(2024, 1, 29, 0, 0, 0),
      Date.UTC(1999, 0, 1, 9, 5),
    ];
    for (let t = Date.UTC(2026, 0, 1); t < Date.UTC(2027, 0, 1); t += 7 * 3_600_000 + 13 * 60_000) instants.push(t);
    for (const alias of ['UTC', 'Etc/UTC', 'utc', 'Zulu', 'Etc/GMT+0']) {
      expect(isUtcZone(alias)).toBe(true);
      for (const t of instants) {
        const d = new Date(t);
        const iso = d.toISOString();
        expect(localDate(d, alias)).toBe(iso.slice(0, 10));
        expect(localTime(d, alias)).toBe(iso.slice(11, 16));
      }
    }
    expect(dayBounds('2026-03-29', 'Etc/UTC')).toEqual({
      start: new Date('2026-03-29T00:00:00Z'),
      end: new Date('2026-03-30T00:00:00Z'),
    });
    for (const zone of ['Europe/London', 'America/New_York', 'Etc/GMT+1', 'UTC0']) expect(isUtcZone(zone)).toBe(false);
    // An invalid date is an error in every zone, UTC too.
    for (const zone of ['UTC', 'Europe/Berlin']) expect(() => localTime(new Date(NaN), zone)).toThrow(RangeError);
  });

  test('the system zone is named as Intl names it, from $TZ or /etc/localtime', async () => {
    // In a fresh process each: ICU reads $TZ once per process.
    const built = path.join(REPO_ROOT, 'dist', 'lib', 'systemTimeZone.js');
    const zoneWith = async (tz: string | undefined) => {
      const env = { ...process.env };
      if (tz === undefined) delete env.TZ;
      else env.TZ = tz;
      const script = `const z = require(${JSON.stringify(built)}).systemTimeZone(); console.log(JSON.stringify([z, Intl.DateTimeFormat().resolvedOptions().timeZone]))`;
      const r = await execa('node', ['-e', script], { env, extendEnv: false });
      return JSON.parse(r.stdout) as [string, string];
    };
    for (const tz of ['UTC', 'Etc/UTC', ':UTC', '']) expect((await zoneWith(tz))[0]).toBe('UTC');
    for (const tz of ['Asia/Tokyo', ':Asia/Tokyo']) expect((await zoneWith(tz))[0]).toBe('Asia/Tokyo');
    // Anything else is Intl's own answer (a POSIX string like UTC0, or the machine's /etc/localtime).
    for (const tz of ['UTC0', 'EST5EDT', undefined]) {
      const [ours, intl] = await zoneWith(tz);
      expect(ours).toBe(intl || 'UTC');
    }
  });
});
