import { describe, expect, it } from 'vitest';
import { PinWatchers } from './pin-watchers.js';
import type { Level } from './pinio.js';

/** A listener that records what it was told, tagged so the order across listeners shows. */
function recorder(tag: string, into: string[]) {
  return (value: Level, monoAt: number) => into.push(`${tag}:${value}@${monoAt}`);
}

describe('PinWatchers', () => {
  it("tells only the line's listeners, with the level and stamp, until each is unwatched", () => {
    const w = new PinWatchers();
    const seen: string[] = [];
    const stopA = w.watch('d0', recorder('a', seen));
    w.watch('d0', recorder('b', seen));
    w.watch('d1', recorder('other', seen));
    w.emit('d0', 0, 5);
    stopA();
    w.emit('d0', 1, 7);
    w.emit('relay', 1, 8);
    expect(seen).toEqual(['a:0@5', 'b:0@5', 'b:1@7']);
  });

  it('reports a falling edge as 0 to every listener, then 1 to every listener, at one stamp', () => {
    const w = new PinWatchers();
    const seen: string[] = [];
    w.watch('d1', recorder('a', seen));
    w.watch('d1', recorder('b', seen));
    w.pulse('d1', 12.5);
    w.pulse('unwatched', 13);
    expect(seen).toEqual(['a:0@12.5', 'b:0@12.5', 'a:1@12.5', 'b:1@12.5']);
  });

  it('forgets every listener on clear, and lines can be watched again afterwards', () => {
    const w = new PinWatchers();
    const seen: string[] = [];
    w.watch('d0', recorder('old', seen));
    w.clear();
    w.emit('d0', 0, 1);
    w.pulse('d0', 2);
    w.watch('d0', recorder('new', seen));
    w.emit('d0', 1, 3);
    expect(seen).toEqual(['new:1@3']);
  });
});
