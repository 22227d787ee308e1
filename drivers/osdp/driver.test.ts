import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { Bus } from '../../gateway/bus/bus.js';
import { silentLogger } from '../../gateway/core/log.js';
import type { Clock } from '../../gateway/core/clock.js';
import type { Driver, DriverContext } from '../../gateway/core/driver.js';
import type { Alarm, CredentialRead, Decision, DeviceStatus } from '../../gateway/core/types.js';
import type { Transport } from '../serial/transport.js';
import { encodeCard } from '../wiegand/formats.js';
import { osdpDeviceSchema, type OsdpDeviceConfig } from './config.js';
import { createDriverWith, readKeyFile, writeKeyFile } from './driver.js';
import { OsdpSimulator, type SimFeedback, type SimReaderOptions } from './sim.js';

/** An in-memory null-modem cable: what one end writes, the other end receives (asynchronously, like a port). */
function memoryPair(): { a: Transport & { fail(): void }; b: Transport } {
  const make = () => {
    let data: ((c: Buffer) => void) | undefined;
    let close: ((e?: Error) => void) | undefined;
    const end = {
      peer: undefined as undefined | { deliver(c: Buffer): void },
      isOpen: true,
      deliver(c: Buffer) {
        if (end.isOpen) setImmediate(() => data?.(c));
      },
      write: async (c: Buffer) => {
        if (!end.isOpen) throw new Error('closed');
        end.peer?.deliver(Buffer.from(c));
      },
      onData: (l: (c: Buffer) => void) => {
        data = l;
      },
      onClose: (l: (e?: Error) => void) => {
        close = l;
      },
      flush: async () => {},
      close: async () => {
        end.isOpen = false;
      },
      fail() {
        end.isOpen = false;
        close?.(new Error('unplugged'));
      },
    };
    return end;
  };
  const a = make();
  const b = make();
  a.peer = b;
  b.peer = a;
  return { a, b };
}

const clock: Clock = { now: () => Date.now(), monotonic: () => performance.now(), isSynced: () => true };

function decision(result: 'granted' | 'denied', display?: string): Decision {
  return { result, reason: result === 'granted' ? 'ok' : 'no_entitlement', laneId: 'l1', zoneId: 'z1', direction: 'in', flags: {}, at: Date.now(), ...(display ? { display } : {}) };
}

function until<T>(get: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const check = () => {
      const v = get();
      if (v !== undefined) return resolve(v);
      if (Date.now() - start > timeoutMs) return reject(new Error('condition not met in time'));
      setTimeout(check, 5);
    };
    check();
  });
}

async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('OSDP driver (in-memory line, simulated readers)', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  const errorsOf = async (registry: Registry, code: string) =>
    ((await registry.getSingleMetric('gatehouse_osdp_errors_total')?.get())?.values ?? []).filter((v) => v.labels.code === code).reduce((n, v) => n + v.value, 0);
  const readersOnline = (statuses: DeviceStatus[], ...readers: string[]) => readers.every((r) => statuses.some((s) => s.reader === r && s.state === 'online')) || undefined;

  function setup(config: Record<string, unknown> & { readers: unknown[] }, simReaders: SimReaderOptions[], opts: { baseDir?: string; openFails?: number; registry?: Registry } = {}) {
    const pair = memoryPair();
    const sim = new OsdpSimulator({ transport: pair.b, baudRate: 115200, readers: simReaders, pace: false });
    const cfg = osdpDeviceSchema.parse({ id: 'bus1', driver: 'osdp', path: '/dev/null', ...config });
    const bus = new Bus();
    const registry = opts.registry ?? new Registry();
    const credentials: CredentialRead[] = [];
    const statuses: DeviceStatus[] = [];
    const alarms: Alarm[] = [];
    const feedback: SimFeedback[] = [];
    bus.on('credential', (c) => credentials.push(c));
    bus.on('device.status', (s) => statuses.push(s));
    bus.on('alarm', (a) => alarms.push(a));
    sim.on('feedback', (f: SimFeedback) => feedback.push(f));
    let fails = opts.openFails ?? 0;
    const ctx: DriverContext<OsdpDeviceConfig> = {
      config: cfg,
      gatewayId: 'gw',
      bus,
      log: silentLogger(),
      metrics: registry,
      clock,
      events: { append: () => undefined } as unknown as DriverContext<OsdpDeviceConfig>['events'],
      makeEvent: (() => undefined) as unknown as DriverContext<OsdpDeviceConfig>['makeEvent'],
    };
    const driver: Driver = createDriverWith({
      baseDir: opts.baseDir,
      reopenInitialMs: 20,
      openTransport: async () => {
        if (fails-- > 0) throw new Error('no such port');
        (pair.a as { isOpen: boolean }).isOpen = true;
        return pair.a;
      },
    })(ctx);
    cleanups.push(() => driver.stop(), () => sim.close());
    return { driver, sim, pair, credentials, statuses, alarms, feedback, registry };
  }

  it('publishes a card read as a credential and shows the grant as OUT + LED + BUZ at the reader', async () => {
    const t = setup({ readers: [{ address: 0 }, { address: 1 }] }, [{ address: 0 }, { address: 1 }]);
    await t.driver.start();
    await until(() => (t.statuses.filter((s) => s.reader !== undefined && s.state === 'online').length === 2 ? true : undefined));
    t.sim.presentCard(1, encodeCard('H10301', { facility: 12, card: 3456 }));
    const read = await until(() => t.credentials[0]);
    expect(read).toMatchObject({ deviceId: 'bus1', reader: '1', credential: { kind: 'card', value: '12:3456', format: 'H10301' } });
    t.driver.feedback!('1', { decision: decision('granted'), pulseMs: 3000 });
    await until(() => (t.feedback.length >= 3 ? true : undefined));
    expect(t.feedback.map((f) => [f.address, f.command])).toEqual([[1, 'OUT'], [1, 'LED'], [1, 'BUZ']]);
    expect(t.feedback[0]!.detail).toMatchObject({ records: [{ output: 0, control: 5, timerMs: 3000 }] });
    expect(t.feedback[1]!.detail).toMatchObject({ records: [{ color: 'green' }] });
  });

  it('shows a denial as a flashing red LED and three beeps, no relay, and the display text when enabled', async () => {
    const t = setup({ readers: [{ address: 0 }], feedback: { text: true } }, [{ address: 0 }]);
    await t.driver.start();
    await until(() => readersOnline(t.statuses, '0'));
    t.driver.feedback!('0', { decision: decision('denied', 'See staff'), pulseMs: 3000 });
    await until(() => (t.feedback.length >= 3 ? true : undefined));
    expect(t.feedback.map((f) => f.command)).toEqual(['LED', 'BUZ', 'TEXT']);
    expect(t.feedback[0]!.detail).toMatchObject({ records: [{ color: 'red', onMs: 200, offMs: 200 }] });
    expect(t.feedback[1]!.detail).toMatchObject({ count: 3 });
    expect(t.feedback[2]!.detail).toMatchObject({ text: 'See staff' });
  });

  it('publishes keypad entries as pin credentials and tamper as an alarm raised then cleared', async () => {
    const t = setup({ readers: [{ address: 4 }] }, [{ address: 4 }]);
    await t.driver.start();
    await until(() => readersOnline(t.statuses, '4'));
    t.sim.presentKeypad(4, '1234');
    await until(() => t.credentials[0]);
    expect(t.credentials[0]!.credential).toEqual({ kind: 'pin', value: '1234' });
    t.sim.setTamper(4, true);
    await until(() => t.alarms.find((a) => a.kind === 'reader_tamper' && a.active));
    t.sim.setTamper(4, false);
    await until(() => t.alarms.find((a) => a.kind === 'reader_tamper' && !a.active));
    expect(t.alarms.filter((a) => a.kind === 'reader_tamper')).toHaveLength(2);
  });

  it('rejects a card with bad parity and an unknown length with counted codes; raw formats pass only when allowed', async () => {
    const t = setup({ readers: [{ address: 0 }] }, [{ address: 0 }]);
    await t.driver.start();
    await until(() => readersOnline(t.statuses, '0'));
    const bits = encodeCard('H10301', { facility: 1, card: 2 });
    t.sim.presentCard(0, (bits[0] === '1' ? '0' : '1') + bits.slice(1));
    t.sim.presentCard(0, '10101');
    await eventually(async () => (await errorsOf(t.registry, 'GH_WIEGAND_FORMAT')) > 0);
    expect(await errorsOf(t.registry, 'GH_WIEGAND_PARITY')).toBe(1);
    expect(await errorsOf(t.registry, 'GH_WIEGAND_FORMAT')).toBe(1);
    expect(t.credentials).toHaveLength(0);

    const raw = setup({ readers: [{ address: 0 }], allowRaw: true }, [{ address: 0 }]);
    await raw.driver.start();
    await until(() => readersOnline(raw.statuses, '0'));
    raw.sim.presentCard(0, '10101');
    await until(() => raw.credentials[0]);
    expect(raw.credentials[0]!.credential).toMatchObject({ kind: 'card', value: 'raw:5:15' });
  });

  it('counts feedback for a reader not on the bus, or offline, and never throws', async () => {
    const t = setup({ readers: [{ address: 0 }, { address: 1 }], offlineAfterMs: 1000 }, [{ address: 0 }]);
    await t.driver.start();
    t.driver.feedback!('9', { decision: decision('granted'), pulseMs: 0 });
    t.driver.feedback!(undefined, { decision: decision('granted'), pulseMs: 0 });
    t.driver.feedback!('1', { decision: decision('granted'), pulseMs: 0 });
    expect(await errorsOf(t.registry, 'GH_OSDP_ADDRESS')).toBe(2);
    expect(await errorsOf(t.registry, 'GH_OSDP_TIMEOUT')).toBeGreaterThanOrEqual(1);
    await until(() => t.alarms.find((a) => a.kind === 'reader_offline' && a.source === 'bus1/1' && a.active));
    expect(t.statuses.find((s) => s.reader === '1' && s.state === 'offline')!.reason).toMatch(/no reply/);
  });

  it('reports the line lost, takes every reader offline and comes back by reopening with backoff', async () => {
    const t = setup({ readers: [{ address: 0 }] }, [{ address: 0 }]);
    await t.driver.start();
    await until(() => readersOnline(t.statuses, '0'));
    t.pair.a.fail();
    expect(t.driver.state()).toBe('offline');
    expect(t.statuses.some((s) => s.reader === undefined && s.state === 'offline' && /unplugged/.test(s.reason ?? ''))).toBe(true);
    expect(t.alarms.some((a) => a.kind === 'reader_offline' && a.active)).toBe(true);
    await until(() => (t.driver.state() === 'online' && t.statuses.filter((s) => s.reader === '0' && s.state === 'online').length >= 2) || undefined);
    expect(t.alarms.some((a) => a.kind === 'reader_offline' && !a.active)).toBe(true);
  });

  it('keeps retrying when the serial port cannot be opened at start', async () => {
    const t = setup({ readers: [{ address: 0 }] }, [{ address: 0 }], { openFails: 2 });
    await t.driver.start();
    expect(t.driver.state()).toBe('offline');
    expect(t.statuses[0]).toMatchObject({ deviceId: 'bus1', state: 'offline', reason: expect.stringMatching(/no such port/) });
    await until(() => readersOnline(t.statuses, '0'));
    expect(await errorsOf(t.registry, 'GH_SERIAL_OPEN')).toBe(2);
    await t.driver.stop();
    expect(t.driver.state()).toBe('stopped');
  });

  it('lets two OSDP buses share one metric registry', () => {
    const registry = new Registry();
    setup({ readers: [{ address: 0 }] }, [{ address: 0 }], { registry });
    expect(() => setup({ id: 'bus2', readers: [{ address: 0 }] }, [{ address: 0 }], { registry })).not.toThrow();
  });

  describe('secure channel through the driver', () => {
    let dir: string;
    afterEach(() => rmSync(dir, { recursive: true, force: true }));
    const KEY = Buffer.from('8899aabbccddeeff0011223344556677', 'hex');

    it('brings a reader up on the key from its key file', async () => {
      dir = mkdtempSync(join(tmpdir(), 'gh-osdp-key-'));
      writeKeyFile(join(dir, 'r0.key'), KEY);
      const t = setup({ readers: [{ address: 0, secureChannel: { keyFile: 'r0.key' } }] }, [{ address: 0, scbk: KEY, requireSecure: true }], { baseDir: dir });
      await t.driver.start();
      await until(() => readersOnline(t.statuses, '0'));
      expect(t.sim.isSecure(0)).toBe(true);
    });

    it('reports a reader whose key does not match as offline, never falling back to plain text', async () => {
      dir = mkdtempSync(join(tmpdir(), 'gh-osdp-key-'));
      writeKeyFile(join(dir, 'r0.key'), Buffer.alloc(16, 1));
      const t = setup({ readers: [{ address: 0, secureChannel: { keyFile: 'r0.key' } }] }, [{ address: 0, scbk: KEY }], { baseDir: dir });
      await t.driver.start();
      const off = await until(() => t.statuses.find((s) => s.reader === '0' && s.state === 'offline'));
      expect(off.reason).toMatch(/secure channel failed/);
      expect(t.alarms.find((a) => a.kind === 'reader_offline')).toMatchObject({ code: 'GH_OSDP_SECURE_CHANNEL', active: true });
      expect(t.statuses.some((s) => s.reader === '0' && s.state === 'online')).toBe(false);
      expect(await errorsOf(t.registry, 'GH_OSDP_SECURE_CHANNEL')).toBeGreaterThan(0);
    });

    it('carries on in plain text when allowPlaintext is set, counting the failure', async () => {
      dir = mkdtempSync(join(tmpdir(), 'gh-osdp-key-'));
      writeKeyFile(join(dir, 'r0.key'), Buffer.alloc(16, 1));
      const t = setup({ readers: [{ address: 0, secureChannel: { keyFile: 'r0.key', allowPlaintext: true } }] }, [{ address: 0, scbk: KEY }], { baseDir: dir });
      await t.driver.start();
      await until(() => readersOnline(t.statuses, '0'));
      expect(t.sim.isSecure(0)).toBe(false);
      expect(await errorsOf(t.registry, 'GH_OSDP_SECURE_CHANNEL')).toBeGreaterThan(0);
    });

    it('counts a malformed key file and treats the reader as having no key', async () => {
      dir = mkdtempSync(join(tmpdir(), 'gh-osdp-key-'));
      writeFileSync(join(dir, 'r0.key'), 'not a key\n');
      const t = setup({ readers: [{ address: 0, secureChannel: { keyFile: join(dir, 'r0.key'), install: true } }] }, [{ address: 0, installMode: true }]);
      await t.driver.start();
      expect(await errorsOf(t.registry, 'GH_OSDP_KEY')).toBe(1);
      await until(() => readersOnline(t.statuses, '0'));
      expect(readFileSync(join(dir, 'r0.key'), 'utf8').trim()).toBe(t.sim.key(0)!.toString('hex'));
    });
  });
});

describe('key files', () => {
  it('reads 32 hex digits, treats a missing file as no key, and rejects anything else with GH_OSDP_KEY', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-osdp-kf-'));
    try {
      expect(readKeyFile(join(dir, 'none'))).toBeUndefined();
      writeKeyFile(join(dir, 'k'), Buffer.alloc(16, 0xab));
      expect(readKeyFile(join(dir, 'k'))).toEqual(Buffer.alloc(16, 0xab));
      expect(existsSync(join(dir, 'k'))).toBe(true);
      writeFileSync(join(dir, 'short'), 'abcd');
      expect(() => readKeyFile(join(dir, 'short'))).toThrow(/32 hex digits/);
      expect(() => readKeyFile(dir)).toThrow(/cannot read/);
      expect(() => writeKeyFile(join(dir, 'missing-dir', 'k'), Buffer.alloc(16))).toThrow(/cannot write/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
