/**
 * A sleep that can be cut short: the uplink sleeps between batches and
 * backoffs until an append (or stop) wakes it; the downlink likewise between polls.
 */
export interface WakeablePause {
  /** Resolves after `ms`, or earlier when `wake()` is called. */
  pause(ms: number): Promise<void>;
  /** Ends the current pause now; does nothing when none is running. */
  wake(): void;
}

export function wakeablePause(): WakeablePause {
  let wake: (() => void) | undefined;
  return {
    pause: (ms) =>
      new Promise<void>((resolve) => {
        const t = setTimeout(done, ms);
        function done() {
          clearTimeout(t);
          wake = undefined;
          resolve();
        }
        wake = done;
      }),
    wake: () => wake?.(),
  };
}
