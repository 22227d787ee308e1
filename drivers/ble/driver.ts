import { Counter, type Registry } from 'prom-client';
import type { Driver, DriverContext, DriverFactory } from '../../gateway/core/driver.js';
import type { DeviceState } from '../../gateway/core/types.js';
import type { BleDeviceConfig } from './config.js';
import { beaconKey, normaliseUuid, parseAdvertisement, txPowerAt1m } from './decode.js';
import { NobleRadio, SimulatedRadio, type RadioSource, type RawAdvert } from './radio.js';

/** Why an advertisement was dropped or kept (label `result` of gatehouse_ble_adverts_total). */
export type AdvertResult = 'sighting' | 'bad_adv' | 'rssi_out_of_range' | 'not_beacon' | 'unknown_uuid';

function getOrCreateCounter<L extends string>(registry: Registry, name: string, help: string, labelNames: L[]): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

/** How often a flood of bad advertisements is logged (one line with the count since the last). */
const BAD_LOG_INTERVAL_MS = 10_000;

/**
 * A BLE radio on the gateway (drivers/ble). Turns advertisements into
 * `sighting`s on the bus; an absent adapter or permission makes the device
 * `unavailable` with the fix named and the driver retries with backoff,
 * the gateway keeps running. `radio` replaces the configured radio (tests, bench, simulator).
 */
export const createDriver: DriverFactory<BleDeviceConfig> = (ctx) => new BleDriver(ctx);

/** As `createDriver`, with the radio given (a `SimulatedRadio` fed in-process, a fake noble...). */
export function createBleDriver(ctx: DriverContext<BleDeviceConfig>, radio?: RadioSource): BleDriver {
  return new BleDriver(ctx, radio);
}

export class BleDriver implements Driver {
  readonly id: string;
  private current: DeviceState = 'stopped';
  private readonly radio: RadioSource;
  private readonly adverts: Counter<'device' | 'result'>;
  private readonly errors: Counter<'code'>;
  private readonly allowUuids: Set<string>;
  private readonly allowNamespaces: Set<string>;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelayMs: number;
  private running = false;
  private badSinceLog = 0;
  private badLoggedAt = -Infinity;

  constructor(private readonly ctx: DriverContext<BleDeviceConfig>, radio?: RadioSource) {
    const cfg = ctx.config;
    this.id = cfg.id;
    this.radio = radio ?? (cfg.radio === 'simulated' ? new SimulatedRadio(cfg.socket) : new NobleRadio());
    this.adverts = getOrCreateCounter(ctx.metrics, 'gatehouse_ble_adverts_total', 'BLE advertisements heard by a radio, by what became of them.', ['device', 'result']);
    this.errors = getOrCreateCounter(ctx.metrics, 'gatehouse_errors_total', 'Errors by stable code (see docs/errors.md).', ['code']);
    this.allowUuids = new Set(cfg.allowUuids.map((u) => normaliseUuid(u) ?? u.toLowerCase()));
    this.allowNamespaces = new Set(cfg.allowNamespaces.map((n) => n.toLowerCase()));
    this.retryDelayMs = cfg.retryMinMs;
  }

  state(): DeviceState {
    return this.current;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.setState('starting');
    await this.tryStart();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.radio.stop().catch((err: unknown) => this.ctx.log.warn({ err }, 'BLE radio did not stop cleanly'));
    this.setState('stopped');
  }

  /** One advertisement from the radio: validate, decode, filter, publish. Never throws. */
  handleAdvert(advert: RawAdvert): AdvertResult {
    const result = this.classify(advert);
    this.adverts.inc({ device: this.id, result });
    return result;
  }

  private classify(advert: RawAdvert): AdvertResult {
    const cfg = this.ctx.config;
    if (!Number.isFinite(advert.rssi) || advert.rssi < cfg.rssiMin || advert.rssi > cfg.rssiMax) {
      this.bad(`RSSI ${advert.rssi} dBm outside ${cfg.rssiMin}..${cfg.rssiMax}`);
      return 'rssi_out_of_range';
    }
    const parsed = parseAdvertisement(advert.data);
    if (!parsed.ok) {
      this.bad(parsed.reason);
      return 'bad_adv';
    }
    const frame = parsed.value.beacon;
    const key = frame ? beaconKey(frame) : undefined;
    if (!frame || !key) return 'not_beacon';
    if (frame.kind === 'ibeacon' && this.allowUuids.size > 0 && !this.allowUuids.has(frame.uuid)) return 'unknown_uuid';
    if (frame.kind === 'eddystone-uid' && this.allowNamespaces.size > 0 && !this.allowNamespaces.has(frame.namespace)) return 'unknown_uuid';
    const sighting: { observer: string; beacon: string; rssi: number; txPower?: number; at: number; monoAt: number } = {
      observer: this.id,
      beacon: key,
      rssi: advert.rssi,
      at: this.ctx.clock.now(),
      monoAt: this.ctx.clock.monotonic(),
    };
    const tx = txPowerAt1m(frame);
    if (tx !== undefined) sighting.txPower = tx;
    this.ctx.bus.emit('sighting', sighting);
    return 'sighting';
  }

  /** Counts a bad advertisement; logs at most one line per interval so a noisy neighbour cannot flood the journal. */
  private bad(reason: string): void {
    this.errors.inc({ code: 'GH_BLE_BAD_ADV' });
    this.badSinceLog++;
    const now = this.ctx.clock.monotonic();
    if (now - this.badLoggedAt >= BAD_LOG_INTERVAL_MS) {
      this.ctx.log.warn({ code: 'GH_BLE_BAD_ADV', reason, count: this.badSinceLog }, 'BLE advertisement ignored');
      this.badLoggedAt = now;
      this.badSinceLog = 0;
    }
  }

  private async tryStart(): Promise<void> {
    try {
      await this.radio.start({
        advert: (a) => this.handleAdvert(a),
        state: (state, reason) => {
          if (!this.running) return;
          if (state === 'unavailable') this.unavailable(reason ?? 'Bluetooth radio unavailable', false);
          else this.setState('online');
        },
      });
      if (!this.running) {
        await this.radio.stop();
        return;
      }
      this.retryDelayMs = this.ctx.config.retryMinMs;
      this.setState('online');
    } catch (err) {
      this.unavailable((err as Error).message ?? String(err), true);
    }
  }

  private unavailable(reason: string, retry: boolean): void {
    this.errors.inc({ code: 'GH_BLE_UNAVAILABLE' });
    this.ctx.log.warn({ code: 'GH_BLE_UNAVAILABLE', reason, retryInMs: retry ? this.retryDelayMs : undefined }, 'BLE radio unavailable');
    this.setState('unavailable', reason);
    if (!retry || !this.running) return;
    const delay = this.retryDelayMs;
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, this.ctx.config.retryMaxMs);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.running) void this.tryStart();
    }, delay);
    this.retryTimer.unref?.();
  }

  private setState(state: DeviceState, reason?: string): void {
    if (state === this.current && reason === undefined) return;
    this.current = state;
    this.ctx.bus.emit('device.status', reason === undefined ? { deviceId: this.id, state, at: this.ctx.clock.now() } : { deviceId: this.id, state, reason, at: this.ctx.clock.now() });
  }
}
