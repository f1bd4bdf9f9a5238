/** A FIFO counting semaphore with no I/O and no timers: deterministic, so workflows use it too (cycle concurrency), and activities cap agent processes per worker with it. */
export class Semaphore {
  private available: number;
  private readonly waiters: Array<() => void> = [];

  constructor(private _size: number) {
    this.available = _size;
  }

  get size(): number {
    return this._size;
  }

  /** Adds `by` slots, waking that many waiters first. */
  grow(by: number): void {
    this._size += by;
    for (let i = 0; i < by; i++) {
      const next = this.waiters.shift();
      if (next) next();
      else this.available++;
    }
  }

  /** Resolves with a release function once a slot is free. Call it exactly once. */
  async acquire(): Promise<() => void> {
    if (this.available > 0) {
      this.available--;
    } else {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) next();
      else this.available++;
    };
  }

  get inUse(): number {
    return this.size - this.available;
  }
}
