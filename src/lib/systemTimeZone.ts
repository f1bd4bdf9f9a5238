// The machine's time zone, as Intl names it: what a config without [orchestrator] timezone acts in.
import { readlinkSync } from 'node:fs';
import { UTC_ZONE, isUtcZone } from './dates';

/**
 * The zone named by $TZ, else by the /etc/localtime link (where ICU looks too). Read without Intl when it is UTC
 * (most servers), so the commands that only print dates start no ICU; any other zone is Intl's own answer.
 */
export function systemTimeZone(): string {
  if (isUtcZone(namedZone() ?? '')) return UTC_ZONE;
  return Intl.DateTimeFormat().resolvedOptions().timeZone || UTC_ZONE;
}

function namedZone(): string | null {
  const tz = process.env.TZ;
  if (tz !== undefined) return tz === '' ? UTC_ZONE : tz.replace(/^:/, '');
  try {
    return /zoneinfo\/(.+)$/.exec(readlinkSync('/etc/localtime'))?.[1] ?? null;
  } catch {
    return null;
  }
}
