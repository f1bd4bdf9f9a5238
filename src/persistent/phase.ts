// The phases of a persistent job, what each one means, and the only transitions between them. Pure.
//
//   starting ──► typing ──► submitting ──► working
//       └──────────────────────┴──────────────┘  (adopting an earlier attempt's prompt: straight to either)

export type JobPhase = 'starting' | 'typing' | 'submitting' | 'working';

/** What interrupting the agent takes when a job stops early (timeout, cancel), by phase. */
export type StopAction =
  /** Nothing was typed: nothing to undo. */
  | 'none'
  /** The prompt is (partly) in the input line, unsent: cleared (C-u). */
  | 'clear'
  /** Enter was pressed: cleared if the text still sits in the input line, else the agent is interrupted. */
  | 'clear-or-interrupt'
  /** The agent is working on the prompt: interrupted (Escape, then C-c). */
  | 'interrupt';

interface PhaseRules {
  next: readonly JobPhase[];
  onStop: StopAction;
  /** The prompt may have reached the agent: its answer is looked for on screen. */
  promptMayBeSent: boolean;
  /** Still waiting for the agent's idle input prompt: a timeout means the prompt was never sent. */
  waitingForAgent: boolean;
}

export const PHASES: Readonly<Record<JobPhase, PhaseRules>> = {
  starting: {
    next: ['typing', 'submitting', 'working'],
    onStop: 'none',
    promptMayBeSent: false,
    waitingForAgent: true,
  },
  typing: { next: ['submitting'], onStop: 'clear', promptMayBeSent: false, waitingForAgent: false },
  submitting: { next: ['working'], onStop: 'clear-or-interrupt', promptMayBeSent: true, waitingForAgent: false },
  working: { next: [], onStop: 'interrupt', promptMayBeSent: true, waitingForAgent: false },
};

/** The job's current phase; moves only along PHASES[..].next. */
export class JobMachine {
  private current: JobPhase = 'starting';

  get phase(): JobPhase {
    return this.current;
  }

  get rules(): PhaseRules {
    return PHASES[this.current];
  }

  to(next: JobPhase): void {
    if (!PHASES[this.current].next.includes(next)) {
      throw new Error(`persistent job: no transition from ${this.current} to ${next}`);
    }
    this.current = next;
  }
}
