/**
 * Wiegand bit assembly: a falling edge on D0 is a 0, on D1 a 1 (SIA AC-01
 * "Wiegand reader interface": 20-100 µs low pulses, 200 µs-20 ms between
 * pulses). A frame ends when neither line pulses for `frameTimeoutMs`.
 * The only timer is the end-of-frame idle timer; gaps between bits are judged
 * from the edges' monotonic stamps, so a burst of edges delivered late (sysfs
 * latency, a socket client sending a whole train) still splits into the right frames.
 */
export interface AssemblerOptions {
  /** Idle time that ends a frame (default 25 ms: some readers space pulses up to 20 ms apart). */
  frameTimeoutMs: number;
  /** A frame growing past this is a stuck or noisy line: it is dropped whole. */
  maxBits: number;
  /**
   * Edges on opposite lines closer than this mark the frame as noise (cross-talk
   * pulses both lines at once). 0 disables the check: sysfs stamps are too coarse for it.
   */
  minBitIntervalMs: number;
}

export type AssembledFrame =
  | {
      kind: 'frame';
      bits: string;
      startAt: number;
      endAt: number;
      /** `idle`: the lines went quiet (the lines can be read now); `gap`: the next frame's first edge showed the gap. */
      endedBy: 'idle' | 'gap';
    }
  | { kind: 'noise'; bits: number; detail: string };

export class BitAssembler {
  private bits: string[] = [];
  private startAt = 0;
  private lastAt = 0;
  private lastLine: 0 | 1 | undefined;
  private overflow = false;
  private noisy: string | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: AssemblerOptions,
    private readonly onFrame: (frame: AssembledFrame) => void,
  ) {}

  /** A falling edge on D0 (`bit` 0) or D1 (`bit` 1), seen at monotonic `monoAt` ms. */
  bit(bit: 0 | 1, monoAt: number): void {
    if (this.bits.length > 0 || this.overflow) {
      if (monoAt - this.lastAt > this.options.frameTimeoutMs) this.flush('gap');
    }
    if (this.bits.length === 0 && !this.overflow) {
      this.startAt = monoAt;
      this.noisy = undefined;
      this.lastLine = undefined;
    } else if (this.options.minBitIntervalMs > 0 && this.lastLine !== undefined && bit !== this.lastLine && monoAt - this.lastAt < this.options.minBitIntervalMs) {
      this.noisy = `pulses on D0 and D1 ${(monoAt - this.lastAt).toFixed(3)} ms apart`;
    }
    this.lastAt = monoAt;
    this.lastLine = bit;
    if (this.overflow) {
      // Swallow until the line goes idle; never grow the buffer on a stuck line.
    } else if (this.bits.length >= this.options.maxBits) {
      this.overflow = true;
      this.bits = [];
    } else {
      this.bits.push(bit === 1 ? '1' : '0');
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.flush('idle'), this.options.frameTimeoutMs);
  }

  /** Ends the frame in progress now (idle timer, or the driver stopping). */
  flush(endedBy: 'idle' | 'gap' = 'idle'): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.overflow) {
      this.overflow = false;
      this.onFrame({ kind: 'noise', bits: this.options.maxBits, detail: `more than ${this.options.maxBits} pulses without a ${this.options.frameTimeoutMs} ms gap (stuck or noisy line)` });
      return;
    }
    if (this.bits.length === 0) return;
    const bits = this.bits.join('');
    this.bits = [];
    if (this.noisy) {
      this.onFrame({ kind: 'noise', bits: bits.length, detail: this.noisy });
      return;
    }
    this.onFrame({ kind: 'frame', bits, startAt: this.startAt, endAt: this.lastAt, endedBy });
  }

  /** Drops any frame in progress without reporting it. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.bits = [];
    this.overflow = false;
  }
}
