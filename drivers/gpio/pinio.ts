import type { Clock } from '../../gateway/core/clock.js';
import type { PinsConfig } from './config.js';

/** A physical line level: 0 = low, 1 = high. Active-low logic is the driver's business. */
export type Level = 0 | 1;

export interface LineRequest {
  /** Logical name (`d0`, `relay`, `door`...): the socket protocol and logs use it. */
  name: string;
  /** GPIO number on the chip; required by the onoff adapter, ignored by the others. */
  gpio?: number;
  direction: 'in' | 'out';
  /**
   * `falling`: only falling edges matter and each one is reported as a pulse
   * (0 then 1). Wiegand pulses last ~50 µs, shorter than sysfs interrupt
   * latency: the level read in the edge callback is often already high again.
   * Default `both`: every level change, with the level read.
   */
  edge?: 'both' | 'falling';
  /** Level an input rests at before any edge (pulled up: 1), and an output's first level. */
  initial: Level;
}

export type EdgeListener = (value: Level, monoAt: number) => void;

/**
 * Reading, writing and watching GPIO lines (STYLE.md: drivers depend on
 * interfaces). Implemented by the onoff adapter (real sysfs lines), the socket
 * adapter (a simulator drives the lines) and an in-memory fake for tests.
 */
export interface PinIO {
  readonly kind: 'onoff' | 'socket' | 'memory';
  /** Claims the lines; rejects with GH_GPIO_UNAVAILABLE when they cannot be used. */
  open(lines: readonly LineRequest[]): Promise<void>;
  read(name: string): Level;
  write(name: string, value: Level): void;
  /** Level changes of an input: the new level and the monotonic ms it was seen. */
  watch(name: string, listener: EdgeListener): () => void;
  close(): Promise<void>;
}

/** Builds the PinIO a device's `pins:` config names. Hardware libraries load only in `open()`. */
export async function createPinIO(pins: PinsConfig, clock: Clock): Promise<PinIO> {
  if (pins.kind === 'socket') {
    const { createSocketPinIO } = await import('./pinio-socket.js');
    return createSocketPinIO({ path: pins.path, clock });
  }
  const { createOnoffPinIO } = await import('./pinio-onoff.js');
  return createOnoffPinIO({ chipBase: pins.chipBase, clock });
}
