import type { EdgeListener, Level } from './pinio.js';

/**
 * The listeners of each input line, shared by the PinIO adapters: `watch`
 * implements PinIO.watch, the adapter calls `emit` (or `pulse`) when it sees
 * an edge, and `clear` on close.
 */
export class PinWatchers {
  private readonly byLine = new Map<string, Set<EdgeListener>>();

  /** Adds a listener to a line; the function returned removes it (PinIO.watch). */
  watch(line: string, listener: EdgeListener): () => void {
    let set = this.byLine.get(line);
    if (!set) this.byLine.set(line, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Tells the line's listeners it is now at `value`. */
  emit(line: string, value: Level, monoAt: number): void {
    for (const l of this.byLine.get(line) ?? []) l(value, monoAt);
  }

  /**
   * A falling edge reported as a pulse, 0 then 1 at one stamp (LineRequest
   * `edge: 'falling'`: the level is often high again before the callback runs).
   */
  pulse(line: string, monoAt: number): void {
    const set = this.byLine.get(line) ?? [];
    for (const l of set) l(0, monoAt);
    for (const l of set) l(1, monoAt);
  }

  /** Drops every listener (the PinIO closed). */
  clear(): void {
    this.byLine.clear();
  }
}
