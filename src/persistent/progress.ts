// A persistent job's progress while its agent works, read from the session's transcript as it grows (the
// file Claude Code's UserPromptSubmit hook names once the prompt is submitted): the same fold as a `claude -p`
// job's stream (turn, tool, text, tokens and cost so far). And when the agent last did anything, for
// stall_timeout: a transcript that grew, or a screen that changed (its spinner and timer aside), as a tool
// that prints shows on screen long before its result reaches the transcript.
import { promises as fs } from 'node:fs';
import { formatDuration } from '../lib/duration';
import { StreamFollower, progressFields } from '../runner/liveProgress';
import type { AgentProgress } from '../temporal/heartbeat';
import { withoutSpinner, type Screen } from './screen';
import { readMarker } from './sessionFiles';
import { promptTurnOffset } from './transcript';

/** How often at most the transcript is looked at (each poll of the pane may ask). */
const LOOK_EVERY_MS = 500;

export class TranscriptProgress {
  private follower: StreamFollower | null = null;
  private transcriptSize = -1;
  private screenText: string | null = null;
  private activeAt: number;
  private lookedAt = 0;
  /** The progress fields of the last look, for heartbeats. */
  progress: AgentProgress = {};

  constructor(
    /** The UserPromptSubmit hook's marker: its input names the transcript. */
    private readonly promptMarker: string,
    /** The job's prompt, as typed. */
    private readonly prompt: string,
    private readonly stallTimeoutMs: number | null,
    /** When the job started (before its prompt went in). */
    private readonly startedAt: number,
    now: number,
  ) {
    this.activeAt = now;
  }

  /** Looks again (at most every LOOK_EVERY_MS); the stall's message when the agent has done nothing too long. */
  async look(screen: Screen | null, now: number): Promise<string | null> {
    if (now - this.lookedAt >= LOOK_EVERY_MS) {
      this.lookedAt = now;
      await this.read(now);
    }
    const text = screen ? withoutSpinner(screen) : null;
    if (text !== null && text !== this.screenText) {
      this.screenText = text;
      this.activeAt = now;
    }
    const silentMs = now - this.activeAt;
    if (this.stallTimeoutMs === null || silentMs < this.stallTimeoutMs) return null;
    return `stalled: nothing new in its transcript or on screen for ${formatDuration(this.stallTimeoutMs)}, last event: ${this.progress.lastEvent ?? 'none'}`;
  }

  private async read(now: number): Promise<void> {
    if (!this.follower) {
      const marker = await readMarker(this.promptMarker);
      if (!marker || typeof marker.transcript_path !== 'string') return;
      // The transcript is the session's whole conversation: this job's part starts at its prompt's turn.
      const from = await promptTurnOffset(marker.transcript_path, this.prompt, this.startedAt);
      this.follower = new StreamFollower(marker.transcript_path, from);
      this.transcriptSize = from;
    }
    const file = this.follower.file;
    const size = await fs.stat(file).then(
      (st) => st.size,
      () => this.transcriptSize,
    );
    if (size !== this.transcriptSize) {
      this.transcriptSize = size;
      this.activeAt = now;
    }
    await this.follower.poll();
    this.progress = {
      ...progressFields(this.follower.tracker.snapshot()),
      lastOutputAt: new Date(this.activeAt).toISOString(),
    };
  }
}
