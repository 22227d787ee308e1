/**
 * Waiting for a state that messages from another thread or process change:
 * `notify()` after each message wakes whoever waits, and `until` rechecks.
 * One waiter at a time: the callers (a snapshot build) await in sequence.
 */
export interface StateWaiter {
  notify(): void;
  /**
   * Resolves once `ready()` holds. Rejects with `failed()` whenever that
   * returns an error, and with `gone()` if the other side is gone before
   * `ready()` holds (after it, being gone is normal: it finished).
   */
  until(ready: () => boolean, failed: () => Error | undefined, gone: () => Error | undefined): Promise<void>;
}

export function stateWaiter(): StateWaiter {
  let wake: (() => void) | undefined;
  return {
    notify() {
      const w = wake;
      wake = undefined;
      w?.();
    },
    async until(ready, failed, gone) {
      while (!ready()) {
        const err = failed() ?? gone();
        if (err) throw err;
        await new Promise<void>((resolve) => (wake = resolve));
      }
      const err = failed();
      if (err) throw err;
    },
  };
}
