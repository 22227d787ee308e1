import { EventEmitter } from 'node:events';
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { eventLoopBinding, readNonBlocking, useEventLoopIo, writeNonBlocking, type UnixPortBinding } from './event-loop-io.js';

/** A non-blocking FIFO stands in for the tty: same EAGAIN behaviour, and the test controls the poller. */
function fifoPort(): { port: UnixPortBinding & { poller: EventEmitter }; other: number; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'gh-fifo-'));
  const path = join(dir, 'line');
  expect(spawnSync('mkfifo', [path]).status).toBe(0);
  const reader = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const writer = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
  return { port: makePort(reader), other: writer, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

function makePort(fd: number | null): UnixPortBinding & { poller: EventEmitter } {
  const port = {
    fd,
    get isOpen() {
      return port.fd !== null;
    },
    poller: new EventEmitter(),
    writeOperation: null as Promise<void> | null,
    read: () => Promise.reject(new Error('original read')),
    write: () => Promise.reject(new Error('original write')),
  };
  return port;
}

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

describe('event-loop serial I/O', () => {
  it('reads what is there at once, and waits for the poller when nothing is', async () => {
    const { port, other, cleanup } = fifoPort();
    cleanups.push(cleanup);
    writeSync(other, Buffer.from('abc'));
    const buf = Buffer.alloc(16);
    expect((await readNonBlocking(port, buf, 0, 16)).bytesRead).toBe(3);
    expect(buf.subarray(0, 3).toString()).toBe('abc');

    let settled = false;
    const pending = readNonBlocking(port, buf, 4, 8).then((r) => {
      settled = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(settled).toBe(false);
    expect(port.poller.listenerCount('readable')).toBe(1);
    writeSync(other, Buffer.from('xy'));
    port.poller.emit('readable');
    expect((await pending).bytesRead).toBe(2);
    expect(buf.subarray(4, 6).toString()).toBe('xy');
    closeSync(other);
    closeSync(port.fd!);
  });

  it('after a short read waits for the poller before reading again (no EAGAIN round), after a full one reads at once', async () => {
    const { port, other, cleanup } = fifoPort();
    cleanups.push(cleanup);
    const buf = Buffer.alloc(8);
    writeSync(other, Buffer.from('abcdef'));
    expect((await readNonBlocking(port, buf, 0, 4)).bytesRead).toBe(4);
    // Full read: the tty may hold more, so the next read goes straight to it.
    expect((await readNonBlocking(port, buf, 0, 4)).bytesRead).toBe(2);
    // Short read: the tty was empty. Bytes that arrive now are read once the poller says so.
    writeSync(other, Buffer.from('gh'));
    let settled = false;
    const pending = readNonBlocking(port, buf, 0, 8).then((r) => {
      settled = true;
      return r;
    });
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    expect(port.poller.listenerCount('readable')).toBe(1);
    port.poller.emit('readable');
    expect((await pending).bytesRead).toBe(2);
    expect(buf.subarray(0, 2).toString()).toBe('gh');
    closeSync(other);
    closeSync(port.fd!);
  });

  it('a closed port is a cancel, an invalid fd a disconnect, a poller error is passed on', async () => {
    const closed = makePort(null);
    await expect(readNonBlocking(closed, Buffer.alloc(4), 0, 4)).rejects.toMatchObject({ canceled: true });
    await expect(writeNonBlocking(closed, Buffer.from('a'))).rejects.toThrow(/not open/);

    const { port, other, cleanup } = fifoPort();
    cleanups.push(cleanup);
    const waiting = readNonBlocking(port, Buffer.alloc(4), 0, 4);
    port.poller.emit('readable', new Error('poll failed'));
    await expect(waiting).rejects.toThrow('poll failed');
    closeSync(other);
    closeSync(port.fd!);

    const gone = makePort(port.fd); // that fd is closed now: EBADF, as after an unplugged adapter
    await expect(readNonBlocking(gone, Buffer.alloc(4), 0, 4)).rejects.toMatchObject({ code: 'EBADF', disconnect: true });
  });

  it('writes everything in order, waiting for the poller while the queue is full', async () => {
    const { port: readerPort, other: writer, cleanup } = fifoPort();
    cleanups.push(cleanup);
    const out = makePort(writer);
    // More than a pipe holds (64 KiB on Linux): the write must hit EAGAIN and wait.
    const data = Buffer.alloc(256 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) % 251;
    const received: Buffer[] = [];
    const writing = writeNonBlocking(out, data);
    const chunk = Buffer.alloc(65_536);
    let total = 0;
    while (total < data.length) {
      await new Promise((r) => setTimeout(r, 1));
      try {
        const n = readSync(readerPort.fd!, chunk, 0, chunk.length, null);
        received.push(Buffer.from(chunk.subarray(0, n)));
        total += n;
      } catch (err) {
        if ((err as { code?: string }).code !== 'EAGAIN') throw err;
      }
      out.poller.emit('writable');
    }
    await writing;
    expect(Buffer.concat(received).equals(data)).toBe(true);
    closeSync(writer);
    closeSync(readerPort.fd!);
  });

  it('wraps the ports a binding opens; a port without fd and poller is left alone', async () => {
    const { port, other, cleanup } = fifoPort();
    cleanups.push(cleanup);
    const binding = { open: (_options: never) => Promise.resolve(port), list: () => Promise.resolve([]) };
    const wrapped = eventLoopBinding(binding);
    expect(wrapped.list).toBe(binding.list);
    const opened = await wrapped.open(undefined as never);
    writeSync(other, Buffer.from('ok'));
    expect((await opened.read(Buffer.alloc(4), 0, 4)).bytesRead).toBe(2);
    const writerPort = useEventLoopIo(makePort(other));
    const w = writerPort.write(Buffer.from('z'));
    expect(writerPort.writeOperation).toBe(w);
    await w;
    expect(writerPort.writeOperation).toBeNull();
    // The first read was short, so this one waits for the poller (the real one fires on its own).
    const second = opened.read(Buffer.alloc(4), 0, 4);
    port.poller.emit('readable');
    expect((await second).bytesRead).toBe(1);

    const foreign = { ...makePort(null), fd: null, poller: undefined } as unknown as UnixPortBinding;
    const original = foreign.read;
    expect(useEventLoopIo(foreign).read).toBe(original);
    closeSync(other);
    closeSync(port.fd!);
  });
});
