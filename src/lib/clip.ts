// Shortening text for a table cell or a one-line summary. Pure and import-free, so workflow code can use it.

/**
 * `text` in at most `max` characters: cut at the last word boundary that keeps at least half of it, with an
 * ellipsis (a single long word is cut where it must be). Text that fits is returned unchanged.
 */
export function clipAtWord(text: string, max: number): string {
  if (text.length <= max) return text;
  const room = text.slice(0, Math.max(0, max - 1));
  const boundary = room.search(/\s\S*$/);
  const cut = boundary >= Math.floor(max / 2) ? room.slice(0, boundary) : room;
  // No dangling separator before the ellipsis: "a, then…" rather than "a, then,…" or "a —…".
  return `${cut.replace(/[\s,;:—–-]+$/u, '')}…`;
}
