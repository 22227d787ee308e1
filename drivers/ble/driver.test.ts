import { afterEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventEmitter } from 'node:events';
import { Registry } from 'prom-client';
import { Bus, type BusTopics } from '../../gateway/bus/bus.js';
import { silentLogger } from '../../gateway/core/log.js';
import type { Clock } from '../../gateway/core/clock.js';
import type { DriverContext } from '../../gateway/core/driver.js';
import { eventFactory } from '../../gateway/events/cloudevent.js';
import { bleDeviceSchema, type BleDeviceConfig } from './config.js';
import { SimulatedAdvertiser, advertLine, advertOf } from './sim.js';
import { createBleDriver, createDriver } from './driver.js';
import { encodeEddystoneTlm, encodeEddystoneUid, encodeIBeacon } from './decode.js';
import { FIX_NO_ADAPTER, FIX_NOT_INSTALLED, FIX_PERMISSION, FIX_POWERED_OFF, NobleRadio, SimulatedRadio, advertFromPeripheral, explainRadioError, loadNoble, type NobleLike, type NoblePeripheral } from './radio.js';

const UUID = 'e2c56db5-dffb-48d2-b060-d0f5a71096e0';

function makeCtx(overrides: Partial<BleDeviceConfig> = {}) {
  const config = bleDeviceSchema.parse({ id: 'radio-1', driver: 'ble', radio: 'simulated', zone: 'hall', ...overrides });
  const bus = new Bus();
  const sightings: Array<BusTopics['sighting']> = [];
  const statuses: Array<BusTopics['device.status']> = [];
  bus.on('sighting', (s) => sightings.push(s));
  bus.on('device.status', (s) => statuses.push(s));
  const clock: Clock = { now: () => 1_700_000_000_000, monotonic: () => 5_000, isSynced: () => true };
  const metrics = new Registry();
  const ctx: DriverContext<BleDeviceConfig> = {
    config,
    gatewayId: 'gw',
    bus,
    log: silentLogger(),
    metrics,
    clock,
    events: { append: () => Promise.resolve() },
    makeEvent: eventFactory('gw'),
  };
  return { ctx, sightings, statuses, metrics };
}

async function counter(metrics: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const json = await metrics.getMetricsAsJSON();
  const m = json.find((x) => x.name === name);
  const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
}

/** A stand-in for noble: an EventEmitter with the few calls we use. */
function fakeNoble(initialState: string, options: { scanError?: Error } = {}) {
  const em = new EventEmitter();
  const noble = Object.assign(em, {
    state: initialState,
    scanning: false,
    startScanningAsync: vi.fn(() => {
      if (options.scanError) return Promise.reject(options.scanError);
      noble.scanning = true;
      return Promise.resolve();
    }),
    stopScanningAsync: vi.fn(() => {
      noble.scanning = false;
      return Promise.resolve();
    }),
  });
  return noble;
}

describe('BLE driver with a simulated radio', () => {
  it('publishes a sighting keyed by the beacon identity with the 1 m power, stamped by the clock', async () => {
    const { ctx, sightings, statuses } = makeCtx();
    const radio = new SimulatedRadio();
    const driver = createBleDriver(ctx, radio);
    await driver.start();
    radio.feed({ data: encodeIBeacon({ uuid: UUID, major: 7, minor: 9, measuredPower: -60 }), rssi: -70 });
    radio.feed({ data: encodeEddystoneUid({ txPower: -20, namespace: '00112233445566778899', instance: 'aabbccddeeff' }), rssi: -80 });
    expect(sightings).toEqual([
      { observer: 'radio-1', beacon: `ibeacon:${UUID}:7:9`, rssi: -70, txPower: -60, at: 1_700_000_000_000, monoAt: 5_000 },
      { observer: 'radio-1', beacon: 'eddystone:00112233445566778899:aabbccddeeff', rssi: -80, txPower: -61, at: 1_700_000_000_000, monoAt: 5_000 },
    ]);
    expect(statuses.map((s) => s.state)).toEqual(['starting', 'online']);
    await driver.stop();
    expect(driver.state()).toBe('stopped');
    radio.feed({ data: encodeIBeacon({ uuid: UUID, major: 7, minor: 9, measuredPower: -60 }), rssi: -70 });
    expect(sightings).toHaveLength(2);
  });

  it('ignores and counts malformed adverts, impossible RSSI, non-beacons and unlisted UUIDs without publishing', async () => {
    const { ctx, sightings, metrics } = makeCtx({ allowUuids: [UUID.toUpperCase()], allowNamespaces: ['00112233445566778899'] });
    const radio = new SimulatedRadio();
    const driver = createBleDriver(ctx, radio);
    await driver.start();
    const results = [
      driver.handleAdvert({ data: Buffer.from('0aff4c00', 'hex'), rssi: -60 }),
      driver.handleAdvert({ data: encodeIBeacon({ uuid: UUID, major: 1, minor: 1, measuredPower: -59 }), rssi: 12 }),
      driver.handleAdvert({ data: encodeIBeacon({ uuid: UUID, major: 1, minor: 1, measuredPower: -59 }), rssi: Number.NaN }),
      driver.handleAdvert({ data: encodeEddystoneTlm({ advCount: 1, uptimeS: 1 }), rssi: -60 }),
      driver.handleAdvert({ data: encodeIBeacon({ uuid: '00000000-0000-0000-0000-000000000000', major: 1, minor: 1, measuredPower: -59 }), rssi: -60 }),
      driver.handleAdvert({ data: encodeEddystoneUid({ txPower: 0, namespace: 'ffffffffffffffffffff', instance: '000000000000' }), rssi: -60 }),
      driver.handleAdvert({ data: encodeIBeacon({ uuid: UUID, major: 1, minor: 1, measuredPower: -59 }), rssi: -60 }),
    ];
    expect(results).toEqual(['bad_adv', 'rssi_out_of_range', 'rssi_out_of_range', 'not_beacon', 'unknown_uuid', 'unknown_uuid', 'sighting']);
    expect(sightings).toHaveLength(1);
    expect(await counter(metrics, 'gatehouse_errors_total', { code: 'GH_BLE_BAD_ADV' })).toBe(3);
    expect(await counter(metrics, 'gatehouse_ble_adverts_total', { device: 'radio-1', result: 'unknown_uuid' })).toBe(2);
    await driver.stop();
  });

  it('formats simulator lines as HEX RSSI [ADDRESS]', () => {
    const adv = advertOf({ kind: 'ibeacon', uuid: UUID, major: 1, minor: 2, measuredPower: -59 });
    expect(advertLine(adv, -70.6, 'aa:bb')).toBe(`${adv.toString('hex')} -71 aa:bb\n`);
    expect(advertLine(adv, -70)).toBe(`${adv.toString('hex')} -70\n`);
  });

  it('shares the gateway error counter when one is already registered (two radios, one registry)', async () => {
    const a = makeCtx();
    const b = makeCtx({ id: 'radio-2' });
    b.ctx.metrics = a.metrics;
    const d1 = createBleDriver(a.ctx, new SimulatedRadio());
    const d2 = createBleDriver(b.ctx, new SimulatedRadio());
    d1.handleAdvert({ data: Buffer.from('ff', 'hex'), rssi: -50 });
    d2.handleAdvert({ data: Buffer.from('ff', 'hex'), rssi: -50 });
    expect(await counter(a.metrics, 'gatehouse_errors_total', { code: 'GH_BLE_BAD_ADV' })).toBe(2);
  });

  describe.skipIf(process.platform === 'win32')('over a Unix socket', () => {
    let dir: string | undefined;
    afterEach(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
      dir = undefined;
    });

    it('reads `HEX RSSI [ADDRESS]` lines, split at awkward points, and counts lines it cannot read', async () => {
      dir = mkdtempSync(join(tmpdir(), 'gh-ble-'));
      const socket = join(dir, 'radio.sock');
      const { ctx, sightings } = makeCtx({ socket });
      const radio = new SimulatedRadio(socket);
      const driver = createBleDriver(ctx, radio);
      await driver.start();
      const hex = encodeIBeacon({ uuid: UUID, major: 3, minor: 4, measuredPower: -59 }).toString('hex');
      const text = `${hex} -71 aa:bb:cc:dd:ee:ff\nnot-hex -50\n${hex} -72\n`;
      const phone = await SimulatedAdvertiser.connect(socket);
      for (const piece of [text.slice(0, 7), text.slice(7, 70), text.slice(70)]) phone.writeRaw(piece);
      phone.advertise({ kind: 'eddystone-uid', txPower: -20, namespace: '00112233445566778899', instance: 'aabbccddeeff' }, -60.4);
      await vi.waitFor(() => expect(sightings).toHaveLength(3), { timeout: 10_000 });
      expect(sightings.map((s) => s.rssi)).toEqual([-71, -72, -60]);
      expect(sightings[2]!.beacon).toBe('eddystone:00112233445566778899:aabbccddeeff');
      expect(radio.badLines).toBe(1);
      await phone.close();
      await driver.stop();
    });
  });
});

describe('BLE driver on noble', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('goes unavailable with the fix named when noble throws EAFNOSUPPORT at load, and retries with backoff until it works', async () => {
    vi.useFakeTimers();
    const { ctx, statuses, sightings, metrics } = makeCtx({ radio: 'noble', retryMinMs: 1000, retryMaxMs: 4000 });
    const noble = fakeNoble('poweredOn');
    let attempts = 0;
    const load = () => {
      attempts++;
      if (attempts <= 3) return Promise.reject(Object.assign(new Error('EAFNOSUPPORT, Address family not supported by protocol'), { code: 'EAFNOSUPPORT' }));
      return Promise.resolve(noble as unknown as NobleLike);
    };
    const driver = createBleDriver(ctx, new NobleRadio({ load }));
    await driver.start();
    expect(driver.state()).toBe('unavailable');
    expect(statuses.at(-1)).toMatchObject({ state: 'unavailable', reason: FIX_NO_ADAPTER });
    await vi.advanceTimersByTimeAsync(999);
    expect(attempts).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(attempts).toBe(2);
    await vi.advanceTimersByTimeAsync(2000);
    expect(attempts).toBe(3);
    await vi.advanceTimersByTimeAsync(4000);
    expect(attempts).toBe(4);
    expect(driver.state()).toBe('online');
    expect(noble.startScanningAsync).toHaveBeenCalledWith([], true);
    expect(await counter(metrics, 'gatehouse_errors_total', { code: 'GH_BLE_UNAVAILABLE' })).toBe(3);

    const peripheral: NoblePeripheral = {
      address: '11:22:33:44:55:66',
      rssi: -65,
      advertisement: { manufacturerData: encodeIBeacon({ uuid: UUID, major: 1, minor: 2, measuredPower: -59 }, { flags: false }).subarray(2) },
    };
    noble.emit('discover', peripheral);
    noble.emit('discover', { rssi: -60, advertisement: { serviceData: [{ uuid: '180d', data: Buffer.from([1]) }] } });
    expect(sightings).toEqual([expect.objectContaining({ beacon: `ibeacon:${UUID}:1:2`, rssi: -65 })]);

    noble.emit('stateChange', 'poweredOff');
    expect(statuses.at(-1)).toMatchObject({ state: 'unavailable', reason: FIX_POWERED_OFF });
    noble.emit('stateChange', 'poweredOn');
    expect(driver.state()).toBe('online');
    await driver.stop();
    expect(noble.stopScanningAsync).toHaveBeenCalled();
  });

  it('names root or cap_net_raw when the adapter reports unauthorized or the socket is refused', async () => {
    const { ctx, statuses } = makeCtx({ radio: 'noble' });
    const driver = createBleDriver(ctx, new NobleRadio({ load: () => Promise.resolve(fakeNoble('unauthorized') as unknown as NobleLike), poweredOnTimeoutMs: 50 }));
    const pending = driver.start();
    await pending;
    expect(statuses.at(-1)).toMatchObject({ state: 'unavailable', reason: FIX_PERMISSION });
    await driver.stop();

    const second = makeCtx({ radio: 'noble' });
    const noble = fakeNoble('unknown');
    const d2 = createBleDriver(second.ctx, new NobleRadio({ load: () => Promise.resolve(noble as unknown as NobleLike), poweredOnTimeoutMs: 5_000 }));
    const starting = d2.start();
    await vi.waitFor(() => expect(noble.listenerCount('stateChange')).toBe(1));
    noble.emit('stateChange', 'unauthorized');
    await starting;
    expect(second.statuses.at(-1)).toMatchObject({ state: 'unavailable', reason: FIX_PERMISSION });
    await d2.stop();
  });

  it('reports an adapter that never powers on, and a scan that fails', async () => {
    const a = makeCtx({ radio: 'noble' });
    const d1 = createBleDriver(a.ctx, new NobleRadio({ load: () => Promise.resolve(fakeNoble('poweredOff') as unknown as NobleLike), poweredOnTimeoutMs: 20 }));
    await d1.start();
    expect(a.statuses.at(-1)).toMatchObject({ state: 'unavailable', reason: FIX_POWERED_OFF });
    await d1.stop();

    const b = makeCtx({ radio: 'noble' });
    const scanError = Object.assign(new Error('EPERM'), { code: 'EPERM' });
    const d2 = createBleDriver(b.ctx, new NobleRadio({ load: () => Promise.resolve(fakeNoble('poweredOn', { scanError }) as unknown as NobleLike) }));
    await d2.start();
    expect(b.statuses.at(-1)).toMatchObject({ state: 'unavailable', reason: FIX_PERMISSION });
    await d2.stop();
  });

  it('explains an EPERM thrown when noble first opens the HCI socket (reading noble.state)', async () => {
    const { ctx, statuses } = makeCtx({ radio: 'noble' });
    const noble = fakeNoble('poweredOn');
    Object.defineProperty(noble, 'state', {
      get: () => {
        throw Object.assign(new Error('EPERM, Operation not permitted'), { code: 'EPERM' });
      },
    });
    const driver = createBleDriver(ctx, new NobleRadio({ load: () => Promise.resolve(noble as unknown as NobleLike) }));
    await driver.start();
    expect(statuses.at(-1)).toMatchObject({ state: 'unavailable', reason: FIX_PERMISSION });
    await driver.stop();
  });

  it('explains load errors an operator can act on', () => {
    expect(explainRadioError(Object.assign(new Error('x'), { code: 'MODULE_NOT_FOUND' }))).toBe(FIX_NOT_INSTALLED);
    expect(explainRadioError(new Error('ENODEV, No such device'))).toBe(FIX_NO_ADAPTER);
    expect(explainRadioError(new Error('boom'))).toBe('Bluetooth radio failed: boom');
  });

  it('rebuilds AD structures from the fields noble parsed (manufacturer, Eddystone service data, TX power)', () => {
    const uid = encodeEddystoneUid({ txPower: -20, namespace: '00112233445566778899', instance: 'aabbccddeeff' });
    const serviceData = uid.subarray(uid.length - 20);
    const advert = advertFromPeripheral({ rssi: -50, advertisement: { serviceData: [{ uuid: 'feaa', data: serviceData }, { uuid: 'zz', data: Buffer.alloc(1) }], txPowerLevel: -4 } });
    expect(advert.data.toString('hex')).toBe(`1716aafe${serviceData.toString('hex')}020afc`);
    expect(advert.address).toBeUndefined();
  });

  it('the real noble on this machine either loads or fails with a reason naming the fix (contract with the host)', async () => {
    try {
      const noble = await loadNoble();
      expect(typeof noble.on).toBe('function');
    } catch (err) {
      expect([FIX_NO_ADAPTER, FIX_PERMISSION, FIX_NOT_INSTALLED]).toContain(explainRadioError(err));
    }
  });

  it('createDriver builds a simulated or noble radio from config', async () => {
    const { ctx } = makeCtx();
    const driver = createDriver(ctx);
    await driver.start();
    expect(driver.state()).toBe('online');
    await driver.stop();
  });
});
