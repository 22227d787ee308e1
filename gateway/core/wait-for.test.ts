import { describe, expect, it } from 'vitest';
import { stateWaiter } from './wait-for.js';

describe('stateWaiter', () => {
  it('resolves once the state holds, rechecking at each notify', async () => {
    const w = stateWaiter();
    let n = 0;
    let resolved = false;
    const p = w.until(() => n >= 2, () => undefined, () => undefined).then(() => (resolved = true));
    n = 1;
    w.notify();
    await Promise.resolve();
    expect(resolved).toBe(false);
    n = 2;
    w.notify();
    await p;
    expect(resolved).toBe(true);
  });

  it('rejects with the failure, even when the state already holds, and with "gone" only while still waiting', async () => {
    const w = stateWaiter();
    const boom = new Error('boom');
    await expect(w.until(() => true, () => boom, () => undefined)).rejects.toBe(boom);
    await expect(w.until(() => true, () => undefined, () => new Error('gone'))).resolves.toBeUndefined();
    const other = { gone: undefined as Error | undefined };
    const p = w.until(() => false, () => undefined, () => other.gone);
    other.gone = new Error('exited');
    w.notify();
    await expect(p).rejects.toThrow('exited');
  });
});
