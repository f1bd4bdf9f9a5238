// Usage-limit messages: when the agent's plan allows it to work again. Claude Code names a wall-clock time
// ("resets 1pm (Europe/London)"), an epoch or a relative delay; the other agents say "try again in 5 days 22
// hours" or "reset after 15h42m29s" (parseSpokenDuration). Pure: the caller passes `now`.
import { lineAt, oneLine, stripAnsi } from './text';
import type { UsageLimit } from './outcome';

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

// "You've hit your limit", "You've hit your session limit", "Claude AI usage limit reached|1753920000",
// "5-hour limit reached ∙ resets 3pm", "You've reached your usage limit".
const USAGE_LIMIT_RE =
  /(?:you(?:'|’)?ve\s+hit\s+your\s+(?:[\w-]+\s+){0,3}limit|you\s+have\s+hit\s+your\s+(?:[\w-]+\s+){0,3}limit|you(?:'|’)?ve\s+reached\s+your\s+(?:[\w-]+\s+){0,3}limit|usage\s+limit\s+reached|\b(?:5-hour|five-hour|session|weekly|daily|opus|sonnet)\s+limit\s+reached)/i;

function validZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function wallClock(instant: number, timeZone: string): { y: number; m: number; d: number; h: number; min: number } {
  const fmt = new Intl.DateTimeFormat('en-US', {
    timeZone,
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    hourCycle: 'h23',
  });
  const p = Object.fromEntries(fmt.formatToParts(new Date(instant)).map((x) => [x.type, x.value]));
  return { y: Number(p.year), m: Number(p.month), d: Number(p.day), h: Number(p.hour) % 24, min: Number(p.minute) };
}

/** The UTC instant at which the wall clock in `timeZone` shows y-m-d h:min (DST-aware, Intl only). */
function zonedInstant(y: number, m: number, d: number, h: number, min: number, timeZone: string): number {
  const target = Date.UTC(y, m - 1, d, h, min);
  let t = target;
  for (let i = 0; i < 3; i++) {
    const w = wallClock(t, timeZone);
    const diff = target - Date.UTC(w.y, w.m - 1, w.d, w.h, w.min);
    if (diff === 0) break;
    t += diff;
  }
  return t;
}

interface ResetSpec {
  hour: number;
  minute: number;
  zone: string;
  month: number | null;
  day: number | null;
}

function parseResetSpec(after: string): ResetSpec | null {
  const m =
    /^(?:at\s+|on\s+)?(?:([A-Za-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(?:at\s+)?)?(\d{1,2})(?::(\d{2}))?\s*([ap]\.?m\.?)?(?=[\s(.,;·∙|-]|$)\s*(?:\(([^)]+)\))?/i.exec(
      after,
    );
  if (!m) return null;
  const [, monthName, dayStr, hourStr, minuteStr, ampm, zoneStr] = m;
  if (!ampm && minuteStr === undefined) return null; // "resets 5" is too ambiguous to act on
  let hour = Number(hourStr);
  const minute = minuteStr === undefined ? 0 : Number(minuteStr);
  if (minute > 59) return null;
  if (ampm) {
    if (hour < 1 || hour > 12) return null;
    const pm = ampm.toLowerCase().startsWith('p');
    hour = (hour % 12) + (pm ? 12 : 0);
  } else if (hour > 23) return null;
  let month: number | null = null;
  let day: number | null = null;
  if (monthName) {
    const idx = MONTHS.indexOf(monthName.slice(0, 3).toLowerCase());
    if (idx < 0) return null;
    month = idx + 1;
    day = Number(dayStr);
    if (day < 1 || day > 31) return null;
  }
  const zone = zoneStr ? zoneStr.trim() : 'UTC';
  return { hour, minute, zone, month, day };
}

// Claude Code prints the reset cut to the minute: a time in the current minute is a reset within the next
// 60 s (waited out to the minute's end), not one a day later.
const MINUTE_MS = 60_000;

function resetInstant(spec: ResetSpec, now: Date): string | null {
  if (!validZone(spec.zone)) return null;
  const nowMs = now.getTime();
  const today = wallClock(nowMs, spec.zone);
  if (spec.month !== null && spec.day !== null) {
    for (const y of [today.y, today.y + 1]) {
      const t = zonedInstant(y, spec.month, spec.day, spec.hour, spec.minute, spec.zone);
      if (t > nowMs - MINUTE_MS) return new Date(t > nowMs ? t : t + MINUTE_MS).toISOString();
    }
    return null;
  }
  // The next occurrence of that wall-clock time, strictly after now.
  for (let offset = 0; offset <= 2; offset++) {
    const day = new Date(Date.UTC(today.y, today.m - 1, today.d + offset));
    const t = zonedInstant(
      day.getUTCFullYear(),
      day.getUTCMonth() + 1,
      day.getUTCDate(),
      spec.hour,
      spec.minute,
      spec.zone,
    );
    if (t > nowMs - MINUTE_MS) return new Date(t > nowMs ? t : t + MINUTE_MS).toISOString();
  }
  return null;
}

/**
 * Recognises Claude's usage-limit message ("You've hit your limit · resets 1pm (Europe/London)", "resets
 * 3:30pm", "resets 13:00", with or without a zone, which defaults to UTC) and computes the next occurrence
 * of the reset time strictly after `now`. Returns null when `text` is not a usage-limit message; resetsAt
 * is null when the reset time cannot be read.
 */
export function parseUsageLimitReset(text: string, now: Date): UsageLimit | null {
  const clean = stripAnsi(text);
  const match = USAGE_LIMIT_RE.exec(clean);
  if (!match) return null;
  // The message is the line holding the match.
  const { line, end } = lineAt(clean, match.index);
  const message = oneLine(line.trim(), 300);
  const rest = clean.slice(match.index + match[0].length, end);

  // Old format: "Claude AI usage limit reached|1753920000" (epoch seconds).
  const epoch = /^\s*\|\s*(\d{9,13})\b/.exec(rest);
  if (epoch) {
    const n = Number(epoch[1]);
    const ms = epoch[1].length >= 12 ? n : n * 1000;
    return { resetsAt: new Date(ms).toISOString(), text: message };
  }

  const reset = /\b(?:resets?|will\s+reset|reset\s+at|try\s+again)\b\s*(?:at\s+)?(.*)$/i.exec(rest);
  if (!reset) return { resetsAt: null, text: message };
  const after = reset[1].trim();

  // Relative: "resets in 2h 30m", "resets in 45 minutes".
  const rel = /^in\s+(?:(\d+)\s*h(?:ours?|rs?)?)?\s*(?:(\d+)\s*m(?:in(?:ute)?s?)?)?/i.exec(after);
  if (rel && (rel[1] !== undefined || rel[2] !== undefined)) {
    const ms = (Number(rel[1] ?? 0) * 60 + Number(rel[2] ?? 0)) * 60_000;
    return { resetsAt: new Date(now.getTime() + ms).toISOString(), text: message };
  }

  const spec = parseResetSpec(after);
  if (spec === null) return { resetsAt: null, text: message };
  return { resetsAt: resetInstant(spec, now), text: message };
}

/** "5 days 22 hours 11 minutes", "2h 30m", "15h42m29s", "41.2s" → milliseconds; null when nothing matched. */
export function parseSpokenDuration(s: string): number | null {
  const UNIT_RE = /(\d+(?:\.\d+)?)\s*(days?|d|hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)(?![a-z])/gi;
  let ms = 0;
  let matched = false;
  for (const m of s.matchAll(UNIT_RE)) {
    const n = Number(m[1]);
    const unit = m[2].toLowerCase();
    const factor = unit.startsWith('d')
      ? 86_400_000
      : unit.startsWith('h')
        ? 3_600_000
        : unit.startsWith('m')
          ? 60_000
          : 1000;
    ms += n * factor;
    matched = true;
  }
  return matched ? Math.round(ms) : null;
}
