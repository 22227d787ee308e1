/**
 * Batches writes behind one timer: many changes in `delayMs` become one
 * transaction (SD cards wear out; an idle gateway writes nothing). Used by the
 * access state and the venue link's store.
 */
export class FlushTimer {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly delayMs: number,
    private readonly flush: () => void,
  ) {}

  /** Arms the timer unless it is already armed. */
  schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, this.delayMs);
    this.timer.unref();
  }

  /** Disarms the timer (called by an explicit flush, so it does not run twice). */
  cancel(): void {
    if (!this.timer) return;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
