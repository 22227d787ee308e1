import type { Clock } from '../../gateway/core/clock.js';
import { PinWatchers } from './pin-watchers.js';
import type { Level, LineRequest, PinIO } from './pinio.js';

export interface MemoryPinIO extends PinIO {
  /** Drives an input to `value` (as a wire would), stamped `monoAt` (default: clock now). */
  set(name: string, value: Level, monoAt?: number): void;
  /** A falling-then-rising pulse on an input (a Wiegand bit), both stamped `monoAt`. */
  pulse(name: string, monoAt?: number): void;
  /** Every level written to an output, in order, with the monotonic ms of the write. */
  writes(name: string): Array<{ value: Level; monoAt: number }>;
  readonly isOpen: boolean;
}

/**
 * An in-memory PinIO for tests and simulations: inputs are driven with `set`/`pulse`,
 * outputs record what the driver wrote. `failOpen` makes `open()` reject, as a
 * machine without GPIO would.
 */
export function createMemoryPinIO(clock: Pick<Clock, 'monotonic'>, options: { failOpen?: Error } = {}): MemoryPinIO {
  const levels = new Map<string, Level>();
  const directions = new Map<string, 'in' | 'out'>();
  const watchers = new PinWatchers();
  const written = new Map<string, Array<{ value: Level; monoAt: number }>>();
  let open = false;
  const need = (name: string, direction: 'in' | 'out') => {
    if (!open) throw new Error('pinio is not open');
    if (directions.get(name) !== direction) throw new Error(`line ${name} is not an ${direction === 'in' ? 'input' : 'output'}`);
  };
  const io: MemoryPinIO = {
    kind: 'memory',
    async open(lines: readonly LineRequest[]) {
      if (options.failOpen) throw options.failOpen;
      for (const l of lines) {
        levels.set(l.name, l.initial);
        directions.set(l.name, l.direction);
      }
      open = true;
    },
    read(name) {
      const v = levels.get(name);
      if (v === undefined) throw new Error(`unknown line ${name}`);
      return v;
    },
    write(name, value) {
      need(name, 'out');
      levels.set(name, value);
      let list = written.get(name);
      if (!list) written.set(name, (list = []));
      list.push({ value, monoAt: clock.monotonic() });
    },
    watch: (name, listener) => watchers.watch(name, listener),
    async close() {
      open = false;
      watchers.clear();
    },
    set(name, value, monoAt = clock.monotonic()) {
      need(name, 'in');
      if (levels.get(name) === value) return;
      levels.set(name, value);
      watchers.emit(name, value, monoAt);
    },
    pulse(name, monoAt = clock.monotonic()) {
      io.set(name, 0, monoAt);
      io.set(name, 1, monoAt);
    },
    writes: (name) => [...(written.get(name) ?? [])],
    get isOpen() {
      return open;
    },
  };
  return io;
}
