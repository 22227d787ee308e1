import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { Bus } from '../../gateway/bus/bus.js';
import type { Driver } from '../../gateway/core/driver.js';
import type { Alarm, CredentialRead, DeviceStatus } from '../../gateway/core/types.js';
import { openSerialTransport, type Transport } from '../../drivers/serial/transport.js';
import { encodeCard } from '../../drivers/wiegand/formats.js';
import { DEFAULT_POLL_INTERVAL_MS, osdpDeviceSchema } from '../../drivers/osdp/config.js';
import { createDriverWith } from '../../drivers/osdp/driver.js';
import { encodeFrame } from '../../drivers/osdp/frame.js';
import { REPLY } from '../../drivers/osdp/replies.js';
import { OsdpSimulator, type SimFeedback } from '../../drivers/osdp/sim.js';
import { createPtyPair, hasSocat, type PtyPair } from '../helpers/pty.js';
import { standaloneOsdpContext } from '../../drivers/osdp/standalone.js';

const socat = hasSocat();
if (!socat) console.warn('socat is not installed: skipping the OSDP PTY integration tests (apt-get install socat)');

function until<T>(get: () => T | undefined | false, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const check = () => {
      const v = get();
      if (v !== undefined && v !== false) return resolve(v);
      if (Date.now() - start > timeoutMs) return reject(new Error(`${what} not met within ${timeoutMs} ms`));
      setTimeout(check, 10);
    };
    check();
  });
}

const SECURE_KEY = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

describe.skipIf(!socat).each(['main', 'worker'] as const)('OSDP bus over a real socat PTY pair: 4 simulated readers, one line, on the %s thread', (thread) => {
  let pair: PtyPair;
  let simTransport: Transport;
  let sim: OsdpSimulator;
  let driver: Driver;
  let dir: string;
  let registry: Registry;
  const credentials: CredentialRead[] = [];
  const statuses: DeviceStatus[] = [];
  const alarms: Alarm[] = [];
  const feedback: SimFeedback[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gh-osdp-'));
    writeFileSync(join(dir, 'reader1.key'), SECURE_KEY.toString('hex') + '\n', { mode: 0o600 });
    pair = await createPtyPair();
    simTransport = await openSerialTransport({ path: pair.device, baudRate: 115200 });
    sim = new OsdpSimulator({
      transport: simTransport,
      baudRate: 115200,
      readers: [
        { address: 0 },
        { address: 1, scbk: SECURE_KEY, requireSecure: true },
        { address: 2 },
        { address: 3, installMode: true },
      ],
    });
    sim.setSilent(2, true);
    sim.on('feedback', (f: SimFeedback) => feedback.push(f));
    const config = osdpDeviceSchema.parse({
      id: 'gate-bus',
      driver: 'osdp',
      thread,
      path: pair.gateway,
      baudRate: 115200,
      offlineAfterMs: 1000,
      readers: [
        { address: 0 },
        { address: 1, secureChannel: { keyFile: 'reader1.key' } },
        { address: 2 },
        { address: 3, secureChannel: { keyFile: 'reader3.key', install: true } },
      ],
    });
    const bus = new Bus();
    registry = new Registry();
    driver = createDriverWith({ baseDir: dir })(standaloneOsdpContext(config, bus, registry));
    bus.on('credential', (c) => {
      credentials.push(c);
      driver.feedback!(c.reader, { decision: { result: 'granted', reason: 'ok', laneId: 'l', zoneId: 'z', direction: 'in', flags: {}, at: c.at }, pulseMs: 2500 });
    });
    bus.on('device.status', (s) => statuses.push(s));
    bus.on('alarm', (a) => alarms.push(a));
    await driver.start();
    const online = (r: string) => statuses.some((s) => s.reader === r && s.state === 'online');
    await until(() => online('0') && online('1') && online('3'), 15_000, 'readers 0, 1 and 3 online');
  });

  afterAll(async () => {
    await driver?.stop();
    sim?.close();
    await simTransport?.close();
    await pair?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const errorCount = async (code: string, reason?: string) => {
    const values = (await registry.getSingleMetric('gatehouse_osdp_errors_total')!.get()).values;
    return values.filter((v) => v.labels.code === code && (reason === undefined || v.labels.reason === reason)).reduce((n, v) => n + v.value, 0);
  };

  it('carries a card from a plain reader and from a secure-channel reader to the bus, and the grant back as OUT then LED', async () => {
    expect(sim.isSecure(1)).toBe(true);
    sim.presentCard(0, encodeCard('H10301', { facility: 12, card: 3456 }));
    sim.presentCard(1, encodeCard('H10301', { facility: 7, card: 42 }));
    await until(() => credentials.length >= 2, 10_000, 'two credentials');
    expect(credentials.map((c) => [c.reader, c.credential.value]).sort()).toEqual([
      ['0', '12:3456'],
      ['1', '7:42'],
    ]);
    await until(() => [0, 1].every((a) => feedback.some((f) => f.address === a && f.command === 'LED')), 10_000, 'LED at readers 0 and 1');
    for (const a of [0, 1]) {
      const mine = feedback.filter((f) => f.address === a).map((f) => f.command);
      expect(mine.slice(0, 2)).toEqual(['OUT', 'LED']);
    }
    expect(feedback.find((f) => f.address === 1 && f.command === 'OUT')!.detail).toMatchObject({ records: [{ control: 5, timerMs: 2500 }] });
  });

  it('installs a fresh key on the install-mode reader, saves it to the key file and runs the channel on it', async () => {
    const path = join(dir, 'reader3.key');
    await until(() => existsSync(path), 10_000, 'key file written');
    const saved = readFileSync(path, 'utf8').trim();
    expect(saved).toMatch(/^[0-9a-f]{32}$/);
    await until(() => sim.key(3)?.toString('hex') === saved && sim.isSecure(3), 10_000, 'reader 3 on its new key');
    sim.presentCard(3, encodeCard('H10301', { facility: 3, card: 333 }));
    await until(() => credentials.some((c) => c.reader === '3' && c.credential.value === '3:333'), 10_000, 'card from reader 3');
  });

  it('reports the silent reader offline (status + alarm) while the others keep being polled', async () => {
    await until(() => statuses.some((s) => s.reader === '2' && s.state === 'offline'), 10_000, 'reader 2 offline');
    expect(alarms.some((a) => a.kind === 'reader_offline' && a.active && a.source === 'gate-bus/2')).toBe(true);
    const before = [0, 1, 2].map((a) => sim.received.get(a) ?? 0);
    await new Promise((r) => setTimeout(r, 1500));
    const after = [0, 1, 2].map((a) => sim.received.get(a) ?? 0);
    const polled = after.map((n, i) => n - before[i]!);
    // Readers 0 and 1 get many slots; the offline one is only probed at its backoff interval.
    expect(polled[0]).toBeGreaterThan(20);
    expect(polled[1]).toBeGreaterThan(20);
    expect(polled[2]).toBeLessThan(polled[0]! / 4);
    // ...and idle readers are polled once per poll interval, not as fast as the line allows
    // (back to back this line carried several hundred exchanges a second).
    for (const n of polled.slice(0, 2)) expect(n).toBeLessThanOrEqual(Math.ceil(1500 / DEFAULT_POLL_INTERVAL_MS) + 2);
  });

  it('drops garbage, a flood, an oversize length, a wrong CRC, a bad MAC, a replayed sequence and an out-of-turn reply with counted reasons, and keeps serving', async () => {
    await sim.inject(Buffer.from('deadbeef00112233', 'hex'));
    await sim.inject(Buffer.from([0x53, 0x00, 0xff, 0x7f, 0x04, 0x40]));
    const bad = encodeFrame({ address: 0, reply: true, sequence: 1, code: REPLY.ACK });
    bad[bad.length - 1]! ^= 0x55;
    await sim.inject(bad);
    await sim.inject(encodeFrame({ address: 9, reply: true, sequence: 1, code: REPLY.ACK }));
    // A device babbling on the line: 2000 bytes of noise, some of them SOM bytes.
    await sim.inject(Buffer.from(Array.from({ length: 2000 }, (_, i) => (i % 7 === 0 ? 0x53 : (i * 31) & 0xff))));
    sim.corruptNext(1, 'mac');
    sim.corruptNext(0, 'sequence');
    const n = credentials.length;
    sim.presentCard(0, encodeCard('H10301', { facility: 1, card: 2 }));
    sim.presentCard(1, encodeCard('H10301', { facility: 1, card: 3 }));
    await until(() => credentials.length >= n + 2, 10_000, 'cards after the bad input');
    expect(await errorCount('GH_OSDP_BAD_FRAME', 'garbage')).toBeGreaterThan(0);
    expect(await errorCount('GH_OSDP_OVERSIZE')).toBeGreaterThan(0);
    expect(await errorCount('GH_OSDP_SECURE_CHANNEL', 'bad_mac')).toBeGreaterThan(0);
    expect(await errorCount('GH_OSDP_SEQUENCE', 'wrong_sequence')).toBeGreaterThan(0);
    expect(await errorCount('GH_OSDP_BAD_CRC')).toBeGreaterThan(0);
    // The stray reply from address 9 lands either during another reader's exchange or between exchanges.
    expect((await errorCount('GH_OSDP_ADDRESS')) + (await errorCount('GH_OSDP_FLOOD'))).toBeGreaterThan(0);
    expect(driver.state()).toBe('online');
  });
});
