import { afterEach, describe, expect, it } from 'vitest';
import { createPtyPair, hasSocat, type PtyPair } from '../../test/helpers/pty.js';
import { listSerialPorts, openSerialTransport, wireTimeMs, type Transport } from './transport.js';
import { isGatehouseError } from '../../gateway/errors.js';

describe('wireTimeMs', () => {
  it('counts 10 bits per byte', () => {
    expect(wireTimeMs(12, 9600)).toBeCloseTo(12.5);
    expect(wireTimeMs(1152, 115200)).toBeCloseTo(100);
  });
});

describe('listSerialPorts', () => {
  it('answers available or not, never throws', async () => {
    const r = await listSerialPorts();
    expect(typeof r.available).toBe('boolean');
  });
});

describe('openSerialTransport', () => {
  it('reports a missing port as GH_SERIAL_OPEN', async () => {
    const err = await openSerialTransport({ path: '/dev/does-not-exist-gh', baudRate: 9600 }).catch((e: unknown) => e);
    expect(isGatehouseError(err, 'GH_SERIAL_OPEN')).toBe(true);
  });
});

describe.skipIf(!hasSocat())('serial transport over a socat PTY pair', () => {
  let pair: PtyPair | undefined;
  const open: Transport[] = [];
  afterEach(async () => {
    for (const t of open.splice(0)) await t.close();
    await pair?.close();
  });

  it('carries every byte value both ways unchanged', async () => {
    pair = await createPtyPair();
    const a = await openSerialTransport({ path: pair.gateway, baudRate: 115200 });
    const b = await openSerialTransport({ path: pair.device, baudRate: 115200 });
    open.push(a, b);
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const received: Buffer[] = [];
    const got = new Promise<void>((resolve) => {
      b.onData((chunk) => {
        received.push(chunk);
        if (Buffer.concat(received).length >= all.length) resolve();
      });
    });
    await a.write(all);
    await got;
    expect(Buffer.concat(received)).toEqual(all);
    expect(a.isOpen).toBe(true);
  });

  it('tells the driver when the port closes', async () => {
    pair = await createPtyPair();
    const a = await openSerialTransport({ path: pair.gateway, baudRate: 9600 });
    const closed = new Promise<void>((resolve) => a.onClose(() => resolve()));
    await a.close();
    await closed;
    expect(a.isOpen).toBe(false);
  });
});
