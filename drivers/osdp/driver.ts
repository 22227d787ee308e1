import { chmodSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { Counter, Gauge, type Registry } from 'prom-client';
import { sharedHotCounter, type Cell, type HotCounter } from '../../gateway/health/hot-metrics.js';
import type { Driver, DriverContext, DriverFactory, LaneFeedback } from '../../gateway/core/driver.js';
import type { AlarmKind, Credential, DeviceState } from '../../gateway/core/types.js';
import { GatehouseError, type ErrorCode } from '../../gateway/errors.js';
import { openSerialTransport, type Transport } from '../serial/transport.js';
import { decodeCardBits } from '../wiegand/formats.js';
import { OsdpBus, type BusError } from './bus.js';
import { CMD, encodeBuzzer, encodeLed, encodeOutput, encodeText } from './commands.js';
import type { OsdpDeviceConfig, OsdpReaderConfig } from './config.js';
import { ReaderSession, type SessionEvent } from './session.js';

/**
 * The OSDP control panel driver: one device = one RS-485 bus. It binds a
 * transport to the poll scheduler and the per-reader sessions, publishes
 * credentials, reader status and alarms on the bus, and turns lane feedback
 * into LED/BUZ/OUT/TEXT commands queued for the reader's next poll slot.
 */

export interface OsdpDriverDeps {
  /** Opens the line; defaults to the serialport adapter. */
  openTransport?: (options: { path: string; baudRate: number }) => Promise<Transport>;
  /** Directory that relative key file paths resolve against; defaults to `ctx.baseDir` (the config file's directory). */
  baseDir?: string;
  /** Reopen backoff after the transport fails or closes. */
  reopenInitialMs?: number;
  reopenMaxMs?: number;
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

export function resolveKeyPath(keyFile: string, baseDir: string | undefined): string {
  return isAbsolute(keyFile) ? keyFile : resolve(baseDir ?? process.cwd(), keyFile);
}

/** Reads an SCBK key file: 32 hex digits. Missing file = no key yet (install mode). */
export function readKeyFile(path: string): Buffer | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new GatehouseError('GH_OSDP_KEY', `cannot read OSDP key file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { file: path }, { cause: err });
  }
  if (!/^[0-9a-fA-F]{32}$/.test(text)) throw new GatehouseError('GH_OSDP_KEY', `OSDP key file ${path} must hold exactly 32 hex digits`, { file: path });
  return Buffer.from(text, 'hex');
}

/** Writes a key file atomically with mode 0600 (a half-written key would lock the reader out). */
export function writeKeyFile(path: string, key: Buffer): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, key.toString('hex') + '\n', { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, path);
  } catch (err) {
    throw new GatehouseError('GH_OSDP_KEY', `cannot write OSDP key file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { file: path }, { cause: err });
  }
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
  private transport: Transport | undefined;
  private bus: OsdpBus | undefined;
  private sessions = new Map<number, ReaderSession>();
  private stateValue: DeviceState = 'starting';
  private stopped = false;
  private reopenTimer: NodeJS.Timeout | undefined;
  private reopenMs: number;
  private readonly readerOnline = new Map<number, boolean>();
  private readonly tamper = new Map<number, boolean>();

  constructor(
    private readonly ctx: DriverContext<OsdpDeviceConfig>,
    private readonly deps: OsdpDriverDeps,
  ) {
    this.id = ctx.config.id;
    this.cfg = ctx.config;
    this.metrics = osdpMetrics(ctx.metrics);
    this.reopenMs = deps.reopenInitialMs ?? 1000;
  }

  state(): DeviceState {
    return this.stateValue;
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.open();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reopenTimer) clearTimeout(this.reopenTimer);
    this.reopenTimer = undefined;
    this.bus?.stop();
    this.bus = undefined;
    const t = this.transport;
    this.transport = undefined;
    await t?.close().catch(() => undefined);
    this.stateValue = 'stopped';
    this.publishDevice('stopped');
  }

  feedback(reader: string | undefined, fb: LaneFeedback): void {
    const address = reader === undefined ? NaN : Number(reader);
    const session = this.sessions.get(address);
    if (!session) {
      this.error('GH_OSDP_ADDRESS', 'feedback_unknown_reader', `feedback for reader "${String(reader)}" which is not on this bus`);
      return;
    }
    const f = this.cfg.feedback;
    const granted = fb.decision.result === 'granted';
    const commands: Array<{ code: number; data: Buffer }> = [];
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
    for (const c of commands) {
      if (!session.enqueue(c)) {
        this.error('GH_OSDP_TIMEOUT', 'feedback_reader_offline', `reader ${address} is not online; feedback dropped`, address);
        return;
      }
    }
    this.bus?.kick();
  }

  private async open(): Promise<void> {
    if (this.stopped) return;
    const open = this.deps.openTransport ?? ((o: { path: string; baudRate: number }) => openSerialTransport(o));
    let transport: Transport;
    try {
      transport = await open({ path: this.cfg.path, baudRate: this.cfg.baudRate });
    } catch (err) {
      const code: ErrorCode = err instanceof GatehouseError ? err.code : 'GH_SERIAL_OPEN';
      this.error(code, 'open_failed', (err as Error).message);
      this.stateValue = 'offline';
      this.publishDevice('offline', `${(err as Error).message}; retrying in ${Math.round(this.reopenMs / 1000)} s`);
      this.scheduleReopen();
      return;
    }
    if (this.stopped) {
      await transport.close().catch(() => undefined);
      return;
    }
    this.transport = transport;
    this.reopenMs = this.deps.reopenInitialMs ?? 1000;
    const now = () => this.ctx.clock.monotonic();
    this.sessions = new Map();
    for (const r of this.cfg.readers) this.sessions.set(r.address, this.makeSession(r, now()));
    // One cell per reader: the bus counts ~33 exchanges a second per reader.
    const exchanges = new Map<number, Cell>(this.cfg.readers.map((r) => [r.address, this.metrics.exchanges.cell({ device: this.id, reader: String(r.address) })]));
    const bus = new OsdpBus({
      transport,
      sessions: [...this.sessions.values()],
      now,
      onError: (e) => this.busError(e),
      onExchange: (address) => {
        const cell = exchanges.get(address);
        if (cell) cell.value++;
        else this.metrics.exchanges.inc({ device: this.id, reader: String(address) });
      },
      onWriteError: (err) => this.lost(transport, err),
    });
    this.bus = bus;
    transport.onClose((err) => this.lost(transport, err));
    this.stateValue = 'online';
    this.publishDevice('online');
    bus.start();
  }

  private lost(transport: Transport, err?: Error): void {
    if (this.transport !== transport) return;
    this.bus?.stop();
    this.bus = undefined;
    this.transport = undefined;
    void transport.close().catch(() => undefined);
    if (this.stopped) return;
    const reason = err ? `serial line lost: ${err.message}` : 'serial line closed';
    this.error('GH_SERIAL_OPEN', 'line_lost', reason);
    for (const address of this.sessions.keys()) this.readerState(address, 'offline', reason, 'GH_SERIAL_OPEN');
    this.stateValue = 'offline';
    this.publishDevice('offline', reason);
    this.scheduleReopen();
  }

  private scheduleReopen(): void {
    if (this.stopped || this.reopenTimer) return;
    const delay = this.reopenMs;
    this.reopenMs = Math.min(this.deps.reopenMaxMs ?? 30_000, this.reopenMs * 2);
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = undefined;
      void this.open();
    }, delay);
  }

  private makeSession(r: OsdpReaderConfig, now: number): ReaderSession {
    let secure;
    if (r.secureChannel) {
      const path = resolveKeyPath(r.secureChannel.keyFile, this.deps.baseDir ?? this.ctx.baseDir);
      let scbk: Buffer | undefined;
      try {
        scbk = readKeyFile(path);
      } catch (err) {
        this.error('GH_OSDP_KEY', 'key_file', (err as Error).message, r.address);
      }
      secure = {
        ...(scbk ? { scbk } : {}),
        install: r.secureChannel.install,
        allowPlaintext: r.secureChannel.allowPlaintext,
        saveKey: (key: Buffer) => writeKeyFile(path, key),
      };
    }
    const session = new ReaderSession(
      {
        address: r.address,
        baudRate: this.cfg.baudRate,
        replyTimeoutMs: this.cfg.replyTimeoutMs,
        offlineAfterMs: this.cfg.offlineAfterMs,
        pollIntervalMs: this.cfg.pollIntervalMs,
        ...(secure ? { secure } : {}),
      },
      now,
    );
    session.on((e) => this.sessionEvent(r.address, e));
    return session;
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

  private busError(e: BusError): void {
    this.error(e.code, e.reason, e.detail, e.address);
  }

  private error(code: ErrorCode, reason: string, detail: string, address?: number): void {
    this.metrics.errors.inc({ device: this.id, reader: address === undefined ? '' : String(address), code, reason });
    this.metrics.coreErrors?.inc({ code });
    // Timeouts of an offline reader repeat at every probe: debug, the status change already said it.
    const level = code === 'GH_OSDP_TIMEOUT' ? 'debug' : 'warn';
    this.ctx.log[level]({ code, reason, ...(address !== undefined ? { reader: address } : {}) }, detail);
  }
}
