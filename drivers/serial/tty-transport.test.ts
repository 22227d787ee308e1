import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { createPtyPair, hasSocat, type PtyPair } from '../../test/helpers/pty.js';
import { isGatehouseError } from '../../gateway/errors.js';
import { openSerialTransport, type Transport } from './transport.js';
import { openTtyTransport, sttyArgs } from './tty-transport.js';

describe('sttyArgs', () => {
  it('asks for a raw line at the speed, with the framing of the options', () => {
    const args = sttyArgs('/dev/ttyUSB0', { path: '/dev/ttyUSB0', baudRate: 9600 });
    expect(args.slice(0, 4)).toEqual(['-F', '/dev/ttyUSB0', '9600', 'raw']);
    expect(args).toEqual(expect.arrayContaining(['-echo', 'cs8', '-parenb', '-cstopb', 'clocal', 'cread', '-crtscts', '-ixon', '-ixoff']));
    const odd = sttyArgs('/dev/x', { path: '/dev/x', baudRate: 19200, dataBits: 7, parity: 'odd', stopBits: 2 });
    expect(odd).toEqual(expect.arrayContaining(['cs7', 'parenb', 'parodd', 'cstopb']));
    expect(sttyArgs('/dev/x', { path: '/dev/x', baudRate: 19200, parity: 'even' })).toEqual(expect.arrayContaining(['parenb', '-parodd']));
  });
});

describe('openTtyTransport errors', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('reports a missing port as GH_SERIAL_OPEN', async () => {
    const err = await openTtyTransport({ path: '/dev/does-not-exist-gh', baudRate: 9600 }).catch((e: unknown) => e);
    expect(isGatehouseError(err, 'GH_SERIAL_OPEN')).toBe(true);
  });

  it('refuses a file that is not a terminal, naming the port', async () => {
    dir = mkdtempSync(join(tmpdir(), 'gh-tty-'));
    const path = join(dir, 'not-a-tty');
    writeFileSync(path, '');
    const err = await openTtyTransport({ path, baudRate: 9600 }).catch((e: unknown) => e);
    expect(isGatehouseError(err, 'GH_SERIAL_OPEN')).toBe(true);
    expect((err as Error).message).toContain(path);
  });
});

describe.skipIf(!hasSocat())('tty transport over a socat PTY pair', () => {
  let pair: PtyPair | undefined;
  const open: Transport[] = [];
  afterEach(async () => {
    for (const t of open.splice(0)) await t.close();
    await pair?.close();
    pair = undefined;
  });

  it('carries every byte value both ways unchanged, with the serialport adapter on the other end', async () => {
    pair = await createPtyPair();
    const a = await openTtyTransport({ path: pair.gateway, baudRate: 115200 });
    const b = await openSerialTransport({ path: pair.device, baudRate: 115200 });
    open.push(a, b);
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const collect = (t: Transport) => {
      const received: Buffer[] = [];
      return new Promise<Buffer>((resolve) =>
        t.onData((chunk) => {
          received.push(chunk);
          const sum = Buffer.concat(received);
          if (sum.length >= all.length) resolve(sum);
        }),
      );
    };
    const atB = collect(b);
    await a.write(all);
    expect(await atB).toEqual(all);
    const atA = collect(a);
    await b.write(Buffer.from(all).reverse());
    expect(await atA).toEqual(Buffer.from(all).reverse());
  });

  it('tells the driver when it closes the port, and when the other end goes away', async () => {
    pair = await createPtyPair();
    const a = await openTtyTransport({ path: pair.gateway, baudRate: 9600 });
    const closed = new Promise<void>((resolve) => a.onClose(() => resolve()));
    await a.close();
    await closed;
    expect(a.isOpen).toBe(false);
    await expect(a.write(Buffer.from([1]))).rejects.toThrow(/closed/);

    const b = await openTtyTransport({ path: pair.gateway, baudRate: 9600 });
    const lost = new Promise<void>((resolve) => b.onClose(() => resolve()));
    await pair.close();
    pair = undefined;
    await lost;
    expect(b.isOpen).toBe(false);
  });

  it('keeps bytes that arrive before the driver listens, and hands them over when it does', async () => {
    pair = await createPtyPair();
    const a = await openTtyTransport({ path: pair.gateway, baudRate: 115200 });
    const b = await openSerialTransport({ path: pair.device, baudRate: 115200 });
    open.push(a, b);
    await b.write(Buffer.from([0x53, 0x01, 0x02]));
    await new Promise((r) => setTimeout(r, 200));
    const got: Buffer[] = [];
    a.onData((c) => got.push(c));
    expect(Buffer.concat(got)).toEqual(Buffer.from([0x53, 0x01, 0x02]));
  });

  it('runs in a worker thread, where the serialport adapter cannot', async () => {
    pair = await createPtyPair();
    const device = await openSerialTransport({ path: pair.device, baudRate: 115200 });
    open.push(device);
    const echoed = new Promise<Buffer>((resolve) => device.onData(resolve));
    // The worker echoes back what it reads, through its own loop.
    const entry = new URL('./tty-transport.ts', import.meta.url).href;
    const tsx = new URL('../../gateway/core/tsx-worker-boot.mjs', import.meta.url);
    const worker = new Worker(tsx, {
      workerData: { gatehouseEntry: `data:text/javascript,${encodeURIComponent(`
        import { parentPort } from 'node:worker_threads';
        const { openTtyTransport } = await import(${JSON.stringify(entry)});
        const t = await openTtyTransport({ path: ${JSON.stringify(pair.gateway)}, baudRate: 115200 });
        t.onData((c) => void t.write(Buffer.from(c).reverse()));
        parentPort.postMessage('ready');
      `)}` },
    });
    try {
      await new Promise((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      await device.write(Buffer.from([1, 2, 3, 0x0a, 0x0d]));
      expect(await echoed).toEqual(Buffer.from([0x0d, 0x0a, 3, 2, 1]));
    } finally {
      await worker.terminate();
    }
  });
});
