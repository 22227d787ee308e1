/**
 * Keeps trying to bring a device up, with exponential backoff (DESIGN.md: a
 * driver that fails is restarted with backoff, never left dead). `attempt`
 * resolves when the device is up; `stop()` cancels any pending retry.
 */
export class Retrier {
  private timer: NodeJS.Timeout | undefined;
  private delay: number;
  private stopped = true;

  constructor(
    private readonly options: {
      attempt: () => Promise<void>;
      onError: (err: unknown, retryInMs: number) => void;
      minMs?: number;
      maxMs?: number;
    },
  ) {
    this.delay = options.minMs ?? 1000;
  }

  /** Tries now; on failure schedules the next try. Resolves after the first try either way. */
  async start(): Promise<void> {
    this.stopped = false;
    this.delay = this.options.minMs ?? 1000;
    await this.tryOnce();
  }

  /** Schedules a new attempt after a failure seen later (device unplugged). */
  retryLater(): void {
    if (this.stopped || this.timer) return;
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    const wait = this.delay;
    this.delay = Math.min(this.delay * 2, this.options.maxMs ?? 60_000);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.tryOnce();
    }, wait);
  }

  private async tryOnce(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.options.attempt();
      this.delay = this.options.minMs ?? 1000;
    } catch (err) {
      if (this.stopped) return;
      this.options.onError(err, this.delay);
      this.schedule();
    }
  }
}
