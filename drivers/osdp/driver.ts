import { Counter, Gauge, type Registry } from 'prom-client';
import { sharedHotCounter, type Cell, type HotCounter } from '../../gateway/health/hot-metrics.js';
import type { Driver, DriverContext, DriverFactory, LaneFeedback } from '../../gateway/core/driver.js';
import type { AlarmKind, Credential, DeviceState } from '../../gateway/core/types.js';
import type { ErrorCode } from '../../gateway/errors.js';
import type { Transport } from '../serial/transport.js';
import { decodeCardBits } from '../wiegand/formats.js';
import { CMD, encodeBuzzer, encodeLed, encodeOutput, encodeText } from './commands.js';
import type { OsdpDeviceConfig } from './config.js';
import { startLine, type LineEvent, type LineHandle, type LineListener, type LineSettings } from './line.js';
import { sharedLineHost, type OsdpLineHost } from './line-host.js';
import type { QueuedCommand, SessionEvent } from './session.js';

export { readKeyFile, resolveKeyPath, writeKeyFile } from './key-file.js';

/**
 * The OSDP control panel driver: one device = one RS-485 bus. The line
 * itself (transport, poll scheduler, the readers' sessions: line.ts) runs on
 * the gateway's event loop, or on the OSDP thread (line-host.ts) when the
 * device says `thread: worker`. The driver, always on the event loop,
 * publishes credentials, reader status and alarms on the bus, logs and counts
 * what the line reports, and turns lane feedback into LED/BUZ/OUT/TEXT
 * commands queued for the reader's next poll slot.
 */

export interface OsdpDriverDeps {
  /** Opens the line; defaults to the serialport adapter. An injected transport runs the line on the main thread. */
  openTransport?: (options: { path: string; baudRate: number }) => Promise<Transport>;
  /** Directory that relative key file paths resolve against; defaults to `ctx.baseDir` (the config file's directory). */
  baseDir?: string;
  /** Reopen backoff after the transport fails or closes. */
  reopenInitialMs?: number;
  reopenMaxMs?: number;
  /** The OSDP thread to run the line on; defaults to the process's shared one. */
  lineHost?: OsdpLineHost;
}

interface OsdpMetrics {
  errors: Counter<'device' | 'reader' | 'code' | 'reason'>;
  exchanges: HotCounter<'device' | 'reader'>;
  online: Gauge<'device' | 'reader'>;
  coreErrors: Counter<'code'> | undefined;
}

/** Metrics are registered once per registry and shared by every OSDP bus of the gateway. */
function osdpMetrics(registry: Registry): OsdpMetrics {
  const get = <T>(name: string, make: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
  const registers = [registry];
  return {
    errors: get('gatehouse_osdp_errors_total', () => new Counter({ name: 'gatehouse_osdp_errors_total', help: 'OSDP frames, replies and exchanges rejected, by code and reason.', labelNames: ['device', 'reader', 'code', 'reason'], registers })),
    exchanges: sharedHotCounter(registry, { name: 'gatehouse_osdp_exchanges_total', help: 'Completed OSDP command/reply exchanges.', labelNames: ['device', 'reader'] }),
    online: get('gatehouse_osdp_reader_online', () => new Gauge({ name: 'gatehouse_osdp_reader_online', help: '1 when the OSDP reader answers (with its secure channel up when one is configured).', labelNames: ['device', 'reader'], registers })),
    coreErrors: registry.getSingleMetric('gatehouse_errors_total') as Counter<'code'> | undefined,
  };
}

export function createDriverWith(deps: OsdpDriverDeps = {}): DriverFactory<OsdpDeviceConfig> {
  return (ctx) => new OsdpDriver(ctx, deps);
}

/** The factory the composition root registers for `driver: osdp`. */
export const createDriver: DriverFactory<OsdpDeviceConfig> = createDriverWith();

class OsdpDriver implements Driver {
  readonly id: string;
  private readonly cfg: OsdpDeviceConfig;
  private readonly metrics: OsdpMetrics;
  private readonly addresses: ReadonlySet<number>;
  /** One cell per reader: the bus counts ~33 exchanges a second per reader. */
  private readonly exchangeCells: Map<number, Cell>;
  private line: LineHandle | undefined;
  private stateValue: DeviceState = 'starting';
  private readonly readerOnline = new Map<number, boolean>();
  private readonly tamper = new Map<number, boolean>();

  constructor(
    private readonly ctx: DriverContext<OsdpDeviceConfig>,
    private readonly deps: OsdpDriverDeps,
  ) {
    this.id = ctx.config.id;
    this.cfg = ctx.config;
    this.metrics = osdpMetrics(ctx.metrics);
    this.addresses = new Set(this.cfg.readers.map((r) => r.address));
    this.exchangeCells = new Map(this.cfg.readers.map((r) => [r.address, this.metrics.exchanges.cell({ device: this.id, reader: String(r.address) })]));
  }

  state(): DeviceState {
    return this.stateValue;
  }

  async start(): Promise<void> {
    const baseDir = this.deps.baseDir ?? this.ctx.baseDir;
    const settings: LineSettings = {
      config: this.cfg,
      ...(baseDir !== undefined ? { baseDir } : {}),
      ...(this.deps.reopenInitialMs !== undefined ? { reopenInitialMs: this.deps.reopenInitialMs } : {}),
      ...(this.deps.reopenMaxMs !== undefined ? { reopenMaxMs: this.deps.reopenMaxMs } : {}),
    };
    const listener: LineListener = { event: (e) => this.lineEvent(e), exchanges: (address, n) => this.countExchanges(address, n) };
    // An injected transport lives in this thread: such a line runs here too.
    if (this.cfg.thread === 'worker' && !this.deps.openTransport) {
      const line = (this.deps.lineHost ?? sharedLineHost()).open(settings, listener);
      try {
        this.line = line;
        await line.start();
        return;
      } catch (err) {
        this.line = undefined;
        this.error('GH_OSDP_WORKER', 'worker_unavailable', `cannot start the OSDP thread (${(err as Error).message}); this bus runs on the main thread`);
      }
    }
    this.line = startLine({ ...settings, ...(this.deps.openTransport ? { openTransport: this.deps.openTransport } : {}), now: () => this.ctx.clock.monotonic() }, listener);
    await this.line.start();
  }

  async stop(): Promise<void> {
    const line = this.line;
    this.line = undefined;
    await line?.stop();
    this.stateValue = 'stopped';
    this.publishDevice('stopped');
  }

  feedback(reader: string | undefined, fb: LaneFeedback): void {
    const address = reader === undefined ? NaN : Number(reader);
    if (!this.addresses.has(address)) {
      this.error('GH_OSDP_ADDRESS', 'feedback_unknown_reader', `feedback for reader "${String(reader)}" which is not on this bus`);
      return;
    }
    const f = this.cfg.feedback;
    const granted = fb.decision.result === 'granted';
    const commands: QueuedCommand[] = [];
    // The relay first: it is what lets the person through; the LED follows in the next slot.
    if (granted && fb.pulseMs > 0) commands.push({ code: CMD.OUT, data: encodeOutput({ output: f.output, control: 5, timerMs: fb.pulseMs }) });
    commands.push({
      code: CMD.LED,
      data: encodeLed(
        granted
          ? { reader: 0, led: 0, color: f.grantedColor, onMs: f.ledMs, offMs: 0, offColor: f.grantedColor, durationMs: f.ledMs }
          : { reader: 0, led: 0, color: f.deniedColor, onMs: f.deniedFlash ? 200 : f.ledMs, offMs: f.deniedFlash ? 200 : 0, offColor: 'black', durationMs: f.ledMs },
      ),
    });
    if (f.buzzer) commands.push({ code: CMD.BUZ, data: encodeBuzzer(granted ? { reader: 0, tone: 2, onMs: 100, offMs: 0, count: 1 } : { reader: 0, tone: 2, onMs: 200, offMs: 200, count: 3 }) });
    if (f.text && fb.decision.display) commands.push({ code: CMD.TEXT, data: encodeText({ reader: 0, mode: 3, seconds: Math.ceil(f.ledMs / 1000), row: 1, column: 1, text: fb.decision.display }) });
    this.line?.feedback(address, commands);
  }

  private lineEvent(e: LineEvent): void {
    switch (e.type) {
      case 'line':
        if (e.state === 'online') {
          this.stateValue = 'online';
          this.publishDevice('online');
          return;
        }
        if (e.lost) for (const r of this.cfg.readers) this.readerState(r.address, 'offline', e.reason, 'GH_SERIAL_OPEN');
        this.stateValue = 'offline';
        this.publishDevice('offline', e.reason);
        return;
      case 'session':
        this.sessionEvent(e.address, e.event);
        return;
      case 'error':
        this.error(e.code, e.reason, e.detail, e.address);
        return;
    }
  }

  private countExchanges(address: number, n: number): void {
    const cell = this.exchangeCells.get(address);
    if (cell) cell.value += n;
    else this.metrics.exchanges.inc({ device: this.id, reader: String(address) }, n);
  }

  private sessionEvent(address: number, e: SessionEvent): void {
    switch (e.type) {
      case 'state':
        this.readerState(address, e.state, e.reason, e.code);
        return;
      case 'card':
        this.card(address, e.bits);
        return;
      case 'keypad':
        this.credential(address, { kind: 'pin', value: e.digits });
        return;
      case 'tamper':
        if ((this.tamper.get(address) ?? false) !== e.tamper) {
          this.tamper.set(address, e.tamper);
          this.alarm('reader_tamper', address, e.tamper, e.tamper ? `reader ${address} reports tamper` : `reader ${address} tamper cleared`);
        }
        return;
      case 'plaintext_fallback':
        this.ctx.log.warn({ reader: address, code: 'GH_OSDP_SECURE_CHANNEL', reason: e.reason }, 'secure channel failed; continuing in PLAIN TEXT because allowPlaintext is set');
        return;
      case 'identity':
        if (e.reply.name === 'PDID') this.ctx.log.info({ reader: address, identity: e.reply }, 'reader identified');
        return;
      case 'keyset':
        if (e.ok) this.ctx.log.info({ reader: address }, 'secure channel key installed (KEYSET) and saved to the key file');
        return;
      case 'error':
        this.error(e.code, e.reason, e.detail, address);
        return;
      default:
        return;
    }
  }

  private card(address: number, bits: string): void {
    const decoded = decodeCardBits(bits, { allowRaw: this.cfg.allowRaw });
    if (!decoded.ok) {
      const code: ErrorCode = decoded.reason === 'parity' ? 'GH_WIEGAND_PARITY' : 'GH_WIEGAND_FORMAT';
      this.error(code, decoded.reason, decoded.detail, address);
      return;
    }
    this.credential(address, decoded.credential);
  }

  private credential(address: number, credential: Credential): void {
    this.ctx.bus.emit('credential', { deviceId: this.id, reader: String(address), credential, at: this.ctx.clock.now(), monoAt: this.ctx.clock.monotonic() });
  }

  private readerState(address: number, state: 'starting' | 'online' | 'offline', reason?: string, code?: ErrorCode): void {
    const reader = String(address);
    const was = this.readerOnline.get(address);
    const online = state === 'online';
    this.metrics.online.set({ device: this.id, reader }, online ? 1 : 0);
    this.ctx.bus.emit('device.status', { deviceId: this.id, reader, state, ...(reason ? { reason } : {}), at: this.ctx.clock.now() });
    if (online) this.ctx.log.info({ reader: address }, 'reader online');
    else this.ctx.log.warn({ reader: address, code, reason }, 'reader offline');
    if (state === 'offline' && was !== false) this.alarm('reader_offline', address, true, `reader ${address} offline: ${reason ?? 'no reply'}`, code);
    if (online && was === false) this.alarm('reader_offline', address, false, `reader ${address} back online`);
    if (state !== 'starting') this.readerOnline.set(address, online);
  }

  private alarm(kind: AlarmKind, address: number, active: boolean, message: string, code?: ErrorCode): void {
    this.ctx.bus.emit('alarm', { kind, source: `${this.id}/${address}`, message, at: this.ctx.clock.now(), active, ...(code ? { code } : {}), details: { device: this.id, reader: address } });
  }

  private publishDevice(state: DeviceState, reason?: string): void {
    this.ctx.bus.emit('device.status', { deviceId: this.id, state, ...(reason ? { reason } : {}), at: this.ctx.clock.now() });
  }

  private error(code: ErrorCode, reason: string, detail: string, address?: number): void {
    this.metrics.errors.inc({ device: this.id, reader: address === undefined ? '' : String(address), code, reason });
    this.metrics.coreErrors?.inc({ code });
    // Timeouts of an offline reader repeat at every probe: debug, the status change already said it.
    const level = code === 'GH_OSDP_TIMEOUT' ? 'debug' : 'warn';
    this.ctx.log[level]({ code, reason, ...(address !== undefined ? { reader: address } : {}) }, detail);
  }
}
