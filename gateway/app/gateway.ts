import { join } from 'node:path';
import { createPublicKey } from 'node:crypto';
import type { LoadedConfig } from '../../config/load.js';
import { readSecret, readSecretText, resolveFromConfig } from '../../config/secrets.js';
import type { DeviceConfig, GatewayConfig } from '../../config/schema.js';
import { Bus } from '../bus/bus.js';
import { systemClock, type Clock } from '../core/clock.js';
import type { Driver, DriverContext } from '../core/driver.js';
import { createLogger, type Logger } from '../core/log.js';
import type { Alarm, DeviceStatus } from '../core/types.js';
import { eventFactory, type EventFactory } from '../events/cloudevent.js';
import { errorCodeOf } from '../errors.js';
import { Health } from '../health/health.js';
import { raiseEventLoopPriority, type RealtimeResult } from '../ops/thread-priority.js';
import { startLoopUtilization } from '../health/loop-utilization.js';
import { createCoreMetrics, type CoreMetrics } from '../health/metrics.js';
import { ensureWritableDir } from '../store/db.js';
import { openEntitlementStore, createAccessEngine, type AccessEngine, type EntitlementStore } from '../access/index.js';
import { openOutbox, createUplink, createDownlink, transportFromConfig, type Outbox, type Uplink, type Downlink } from '../../sync/index.js';
import { createEngagement, type Engagement } from '../engagement/index.js';
import type { ContentPublisher } from '../core/signage.js';
import { brokerSchema } from '../../config/sections/broker.js';
import type { MqttDeviceConfig } from '../../drivers/mqtt/config.js';
import type { MqttBus } from '../../drivers/mqtt/index.js';
import { storeHolderDirectory, storeTicketDirectory } from './holders.js';
import { Activity } from './activity.js';
import { startAdminServer, type AdminServer } from './admin-server.js';
import { statusRoutes } from '../ops/status-page.js';
import { wireDecisionPath } from './decision-path.js';
import { loadDriverFactory } from './driver-registry.js';
import { LaneRouter } from './lanes.js';
import { DriverSupervisor } from './supervisor.js';
import { diffConfig, type ConfigDiff } from './config-diff.js';
import { createVenueLink, venueConflictWindows, type VenueLink } from '../../sync/venue/index.js';

export interface StartOptions {
  log?: Logger;
  clock?: Clock;
  /** Override the admin port (tests use 0). */
  adminPort?: number;
  /** Sets the event loop's real-time priority (tests replace it: a test runner's thread must keep its own). */
  raisePriority?: (priority: number) => RealtimeResult;
}

export interface RunningGateway {
  readonly config: GatewayConfig;
  readonly bus: Bus;
  readonly metrics: CoreMetrics;
  readonly health: Health;
  readonly admin: AdminServer;
  readonly store: EntitlementStore;
  readonly engine: AccessEngine;
  readonly outbox: Outbox;
  readonly uplink: Uplink | undefined;
  readonly downlink: Downlink | undefined;
  readonly drivers: ReadonlyMap<string, Driver>;
  readonly mqtt: MqttBus | undefined;
  /** Bound ports of the embedded broker (0 in config = ephemeral). */
  readonly brokerPorts: { tcp?: number; tls?: number; ws?: number };
  readonly engagement: Engagement;
  readonly makeEvent: EventFactory;
  /** The link to the venue's other gateways (issue #11), when `venue:` is configured. */
  readonly venue: VenueLink | undefined;
  status(): GatewayStatus;
  /**
   * Applies a new, already validated config without a restart: changed devices
   * are restarted, lanes and zones swapped in one step; everything else keeps running.
   */
  reload(next: LoadedConfig): Promise<ConfigDiff>;
  stop(): Promise<void>;
}

export interface GatewayStatus {
  gateway: { id: string; name?: string; venue?: string; version: string; startedAt: string; clockSynced: boolean };
  health: ReturnType<Health['snapshot']>;
  devices: Array<DeviceStatus & { lastSeen?: number }>;
  lanes: Record<string, Array<{ at: number; result: string; reason: string; holderRef?: string }>>;
  decisionsPerMinute: Array<{ minute: string; granted: number; denied: number }>;
  outbox: { depth: number };
  sync: { lastSuccessAt?: number; lastError?: { code: string; message: string }; deadLetters: number; connected: boolean } | undefined;
  entitlements: ReturnType<EntitlementStore['status']>;
  alarms: Alarm[];
  /** The shared venue link, when several gateways share anti-passback (issue #11). */
  venueLink?: ReturnType<VenueLink['status']>;
}

export const VERSION = '0.1.0';

/**
 * The composition root: the one place that knows config, drivers, sync and
 * the core together. Start order follows DESIGN.md: open the stores and check
 * integrity, serve decisions, then connect the rest.
 */
export async function startGateway(loaded: LoadedConfig, options: StartOptions = {}): Promise<RunningGateway> {
  const { config, baseDir } = loaded;
  const log = (options.log ?? createLogger()).child({ gateway: config.gateway.id });
  const clock = options.clock ?? systemClock({ assumeSynced: config.gateway.assumeClockSynced });
  const metrics = createCoreMetrics();
  const health = new Health(clock.now);
  const bus = new Bus((topic, err) => {
    metrics.errors.inc({ code: errorCodeOf(err) });
    log.error({ err, topic }, 'bus subscriber failed');
  });
  const makeEvent = eventFactory(config.gateway.id, clock.now);
  const startedAt = clock.now();
  if (config.gateway.realtimePriority !== undefined) {
    const raised = (options.raisePriority ?? raiseEventLoopPriority)(config.gateway.realtimePriority);
    if (raised.ok) log.info({ priority: raised.priority }, 'event loop runs at real-time priority (SCHED_RR)');
    else {
      metrics.errors.inc({ code: 'GH_RT_PRIORITY' });
      log.warn({ code: 'GH_RT_PRIORITY', reason: raised.reason }, 'event loop could not get real-time priority; it runs at normal priority');
    }
  }
  const dataDir = resolveFromConfig(baseDir, config.storage.dataDir);
  ensureWritableDir(dataDir);

  // 1. Stores first: the gate must be able to decide before anything else connects.
  const key = readSecret(config.secrets.credentialKey, baseDir);
  const store = openEntitlementStore({ dataDir, key, clock, log: log.child({ component: 'entitlements' }), metrics: metrics.registry });
  const storeStatus = store.status();
  if (storeStatus.corruptMovedAside) {
    raiseAlarmLater({ kind: 'cache_corrupt', source: 'entitlements', code: 'GH_STORE_CORRUPT', message: `entitlement store was corrupt and moved to ${storeStatus.corruptMovedAside}; lanes decide by fail mode until a snapshot arrives`, at: clock.now(), active: true });
  }
  // --- venue (issue #11): created before the engine, which reads shared state from it; connected in step 3d.
  const venue: VenueLink | undefined = config.venue
    ? createVenueLink({
        config: config.venue,
        gatewayId: config.gateway.id,
        baseDir,
        dataDir,
        clock,
        log: log.child({ component: 'venue' }),
        metrics: metrics.registry,
        // Conflicts are appended only after start (step 3d), when the outbox exists.
        events: { append: (e, p) => outbox.append(e, p) },
        makeEvent,
        raiseAlarm: (a) => bus.emit('alarm', a),
        countError: (code) => metrics.errors.inc({ code }),
        conflictWindowMs: venueConflictWindows(config.zones),
      })
    : undefined;
  let engine = createAccessEngine({ store, zones: config.zones, lanes: config.lanes, clock, metrics: metrics.registry, log: log.child({ component: 'access' }), timezone: config.gateway.timezone, stateDir: dataDir, ...(venue ? { shared: venue } : {}) });
  let lanes = new LaneRouter(config.lanes);

  const alarms = new Map<string, Alarm>();
  const outbox = openOutbox({
    path: join(dataDir, 'outbox.db'),
    ...config.storage.outbox,
    clock,
    log: log.child({ component: 'outbox' }),
    metrics: metrics.registry,
    raiseAlarm: (a) => bus.emit('alarm', a),
  });

  // 2. Serve decisions.
  const drivers = new Map<string, Driver>();
  const unwire = wireDecisionPath({ bus, engine: () => engine, lanes: () => lanes, drivers, events: outbox, makeEvent, metrics, log, clock });

  // Alarms and device states become events, metrics and health.
  const lastSeen = new Map<string, DeviceStatus & { lastSeen?: number }>();
  bus.on('alarm', (a) => {
    const k = `${a.kind}/${a.source}`;
    if (a.active) alarms.set(k, a);
    else alarms.delete(k);
    metrics.alarmsActive.reset();
    for (const active of alarms.values()) metrics.alarmsActive.inc({ kind: active.kind });
    health.set(`alarm:${k}`, a.active ? 'warn' : 'ok', a.message, a.code);
    log[a.active ? 'warn' : 'info']({ alarm: a.kind, source: a.source, code: a.code }, a.message);
    appendQuietly(makeEvent({ type: a.active ? 'io.gatehouse.alarm.raised' : 'io.gatehouse.alarm.cleared', origin: a.source, at: a.at, clockSynced: clock.isSynced(), data: a }), 'alarm');
  });
  bus.on('device.status', (s) => {
    const k = s.reader === undefined ? s.deviceId : `${s.deviceId}/${s.reader}`;
    const prev = lastSeen.get(k);
    lastSeen.set(k, { ...s, ...(s.state === 'online' ? { lastSeen: s.at } : prev?.lastSeen ? { lastSeen: prev.lastSeen } : {}) });
    metrics.deviceOnline.set({ device: s.deviceId, reader: s.reader ?? '' }, s.state === 'online' ? 1 : 0);
    if (s.state === 'online') metrics.deviceLastSeen.set({ device: s.deviceId, reader: s.reader ?? '' }, s.at / 1000);
    if (prev?.state === s.state) return;
    if (s.state === 'online' || s.state === 'offline' || s.state === 'unavailable' || s.state === 'failed') {
      const online = s.state === 'online';
      appendQuietly(
        makeEvent({ type: online ? 'io.gatehouse.device.online' : 'io.gatehouse.device.offline', origin: s.deviceId, at: s.at, clockSynced: clock.isSynced(), data: { device: s.deviceId, ...(s.reader ? { reader: s.reader } : {}), ...(s.reason ? { reason: s.reason } : {}) } }),
        online ? 'telemetry' : 'alarm',
      );
      health.set(`device:${k}`, online ? 'ok' : 'warn', online ? undefined : `${k} is ${s.state}${s.reason ? `: ${s.reason}` : ''}`);
    }
  });
  const activity = new Activity();
  bus.on('decision', (d) => {
    activity.record(d);
    metrics.deviceLastSeen.set({ device: d.deviceId, reader: d.reader ?? '' }, d.at / 1000);
    const k = d.reader === undefined ? d.deviceId : `${d.deviceId}/${d.reader}`;
    const seen = lastSeen.get(k);
    if (seen) seen.lastSeen = d.at;
  });

  function appendQuietly(event: ReturnType<EventFactory>, priority: Parameters<Outbox['append']>[1]): void {
    const eventId = event.id; // not the event: the callback lives until the fsync
    outbox.append(event, priority).catch((err: unknown) => {
      metrics.errors.inc({ code: errorCodeOf(err) });
      log.error({ err, code: errorCodeOf(err), eventId }, 'event could not be appended');
    });
  }
  function raiseAlarmLater(a: Alarm): void {
    queueMicrotask(() => bus.emit('alarm', a));
  }

  // 3. Drivers, each supervised.
  const supervisors = new Map<string, DriverSupervisor>();
  async function addDevice(device: DeviceConfig): Promise<void> {
    if (device.driver === 'mqtt') return;
    const driver = await createDeviceDriver(device);
    if (!driver) return;
    drivers.set(device.id, driver);
    const supervisor = new DriverSupervisor(driver, { bus, log, clock, onError: (code) => metrics.errors.inc({ code }) });
    supervisors.set(device.id, supervisor);
    await supervisor.start();
  }
  async function removeDevice(id: string): Promise<void> {
    const supervisor = supervisors.get(id);
    supervisors.delete(id);
    drivers.delete(id);
    await supervisor?.stop().catch((err: unknown) => log.warn({ err, device: id }, 'driver did not stop cleanly'));
  }
  await Promise.all(config.devices.map(addDevice));

  // A turnstile that reports no rotation after a grant gives the entry back (granted_not_used).
  bus.on('passage', (p) => engine.recordPassage(p.laneId, p.holderRef ?? '', p.used));

  // 3b. The embedded MQTT broker for signs, kiosks and MQTT readers.
  const mqttDevices = config.devices.filter((d): d is MqttDeviceConfig => d.driver === 'mqtt');
  let mqtt: MqttBus | undefined;
  let brokerPorts: { tcp?: number; tls?: number; ws?: number } = {};
  if (mqttDevices.length > 0 || config.broker) {
    const { createMqttBus } = await import('../../drivers/mqtt/index.js');
    mqtt = createMqttBus({
      broker: config.broker ?? brokerSchema.parse({}),
      devices: mqttDevices,
      gatewayId: config.gateway.id,
      baseDir,
      bus,
      log: log.child({ component: 'mqtt' }),
      metrics: metrics.registry,
      clock,
      events: outbox,
      makeEvent,
    });
    brokerPorts = (await mqtt.start()).ports;
    for (const d of mqtt.drivers()) drivers.set(d.id, d);
    log.info({ ports: brokerPorts }, 'MQTT broker listening');
  }
  const noSigns: ContentPublisher = { send: () => false };

  // 3c. Engagement: visits, zones, kiosk use, content rules.
  const engagement = createEngagement({
    config,
    bus,
    events: outbox,
    makeEvent,
    publisher: mqtt?.publisher ?? noSigns,
    holders: storeHolderDirectory(() => store),
    tickets: storeTicketDirectory(() => store),
    clock,
    log: log.child({ component: 'engagement' }),
    metrics: metrics.registry,
    dataDir,
  });
  engagement.start();

  // 3d. Venue link (issue #11): shared anti-passback and occupancy with the venue's other gateways.
  // Connects in the background; until it has caught up, decisions carry apbUnverified.
  venue?.start();

  async function createDeviceDriver(device: DeviceConfig): Promise<Driver | undefined> {
    const factory = await loadDriverFactory(device.driver);
    if (!factory) {
      log.warn({ device: device.id, driver: device.driver }, 'no driver of this kind in this build; device ignored');
      health.set(`device:${device.id}`, 'warn', `driver "${device.driver}" is not available in this build`, 'GH_DRIVER_UNAVAILABLE');
      return undefined;
    }
    const ctx: DriverContext<typeof device> = { config: device, gatewayId: config.gateway.id, bus, log: log.child({ device: device.id }), metrics: metrics.registry, clock, events: outbox, makeEvent, baseDir, dataDir };
    return (factory as (c: DriverContext<typeof device>) => Driver)(ctx);
  }

  // 4. Sync with the central side.
  let uplink: Uplink | undefined;
  let downlink: Downlink | undefined;
  if (config.central) {
    const token = config.central.token ? readSecretText(config.central.token, baseDir) : undefined;
    uplink = createUplink({
      outbox,
      transport: transportFromConfig(config.central, config.gateway.id, baseDir),
      batchSize: config.central.batchSize,
      lingerMs: config.central.lingerMs,
      backoff: { capMs: config.central.maxBackoffMs },
      clock,
      log: log.child({ component: 'uplink' }),
      metrics: metrics.registry,
      raiseAlarm: (a) => bus.emit('alarm', a),
      onStatus: (s) => {
        health.set('uplink', s.connected && !s.setupProblem ? 'ok' : 'warn', s.lastError?.message, s.lastError?.code);
        if (s.lastSuccessAt !== undefined) metrics.uplinkLastSuccess.set(s.lastSuccessAt / 1000);
      },
    });
    uplink.start();
    if (config.central.publicKey) {
      const publicKey = createPublicKey(readSecretText(config.central.publicKey, baseDir));
      downlink = createDownlink({
        baseUrl: config.central.url,
        ...(token ? { token } : {}),
        publicKey,
        sink: store,
        gatewayId: config.gateway.id,
        clock,
        log: log.child({ component: 'downlink' }),
        metrics: metrics.registry,
        raiseAlarm: (a) => bus.emit('alarm', a),
        stagingDir: join(dataDir, 'staging'),
        pollTimeoutMs: config.central.pollTimeoutMs,
        backoff: { baseMs: 1000, capMs: config.central.maxBackoffMs },
        ...tlsFiles(config, baseDir),
      });
      downlink.start();
    } else {
      health.set('downlink', 'warn', 'central.publicKey is not set: entitlement updates are not pulled');
    }
  }

  // 5. Clock: events made on an unsynchronised clock are flagged; say so loudly once.
  const clockTimer = setInterval(checkClock, 30_000);
  clockTimer.unref();
  let clockAlarm = false;
  function checkClock(): void {
    const synced = clock.isSynced();
    if (synced === !clockAlarm) return;
    clockAlarm = !synced;
    bus.emit('alarm', { kind: 'clock_unsynced', source: 'clock', message: synced ? 'wall clock synchronised' : 'wall clock is not synchronised (no NTP yet): events are flagged, validity windows judged with care', at: clock.now(), active: !synced });
  }
  checkClock();

  const depthTimer = setInterval(() => metrics.outboxDepth.set(outbox.depth()), 1000);
  depthTimer.unref();
  metrics.outboxDepth.set(outbox.depth());
  const loopUtilization = startLoopUtilization(metrics.registry);

  const status = (): GatewayStatus => ({
    gateway: {
      id: config.gateway.id,
      ...(config.gateway.name ? { name: config.gateway.name } : {}),
      ...(config.gateway.venue ? { venue: config.gateway.venue } : {}),
      version: VERSION,
      startedAt: new Date(startedAt).toISOString(),
      clockSynced: clock.isSynced(),
    },
    health: health.snapshot(),
    devices: [...lastSeen.values()],
    lanes: activity.lanes(),
    decisionsPerMinute: activity.perMinute(),
    outbox: { depth: outbox.depth() },
    sync: uplink?.status(),
    entitlements: store.status(),
    alarms: [...alarms.values()],
    ...(venue ? { venueLink: venue.status() } : {}),
  });

  const admin = await startAdminServer({
    host: config.admin.host,
    port: options.adminPort ?? config.admin.port,
    registry: metrics.registry,
    health,
    status,
    routes: statusRoutes(),
    ...(config.admin.token ? { token: readSecretText(config.admin.token, baseDir) } : {}),
    log: log.child({ component: 'admin' }),
  });
  log.info({ admin: admin.url, devices: drivers.size, lanes: lanes.size }, 'gateway running');

  let current = config;
  async function reload(next: LoadedConfig): Promise<ConfigDiff> {
    const diff = diffConfig(current, next.config);
    if (diff.needsRestart.length > 0) {
      log.warn({ sections: diff.needsRestart }, 'these config sections change only on restart; the rest is applied now');
    }
    if (diff.accessChanged) {
      // Synchronous from close to assignment: no decision can run in between,
      // so no anti-passback or occupancy update is lost.
      engine.close();
      engine = createAccessEngine({ store, zones: next.config.zones, lanes: next.config.lanes, clock, metrics: metrics.registry, log: log.child({ component: 'access' }), timezone: current.gateway.timezone, stateDir: dataDir, ...(venue ? { shared: venue } : {}) });
      lanes = new LaneRouter(next.config.lanes);
    }
    for (const id of diff.devicesRemoved) await removeDevice(id);
    for (const device of diff.devicesChanged) {
      await removeDevice(device.id);
      await addDevice(device);
    }
    for (const device of diff.devicesAdded) await addDevice(device);
    if (mqtt) {
      const before = mqtt.drivers().map((d) => d.id);
      mqtt.updateDevices(next.config.devices.filter((d): d is MqttDeviceConfig => d.driver === 'mqtt'));
      for (const id of before) drivers.delete(id);
      for (const d of mqtt.drivers()) drivers.set(d.id, d);
    }
    if (diff.engagementChanged) engagement.reload(next.config);
    const kept: Partial<GatewayConfig> = {};
    for (const section of diff.needsRestart) Object.assign(kept, { [section]: current[section] });
    current = { ...next.config, ...kept };
    log.info({ added: diff.devicesAdded.map((d) => d.id), removed: diff.devicesRemoved, changed: diff.devicesChanged.map((d) => d.id), access: diff.accessChanged }, 'config reloaded');
    return diff;
  }

  let stopped = false;
  return {
    get config() {
      return current;
    },
    bus,
    metrics,
    health,
    admin,
    get store() {
      return store;
    },
    get engine() {
      return engine;
    },
    outbox,
    uplink,
    downlink,
    drivers,
    mqtt,
    brokerPorts,
    engagement,
    makeEvent,
    venue,
    status,
    reload,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(clockTimer);
      clearInterval(depthTimer);
      loopUtilization.stop();
      unwire();
      await Promise.allSettled([...supervisors.values()].map((s) => s.stop()));
      await engagement.stop();
      await mqtt?.stop();
      await venue?.stop();
      await downlink?.stop();
      await uplink?.stop();
      await outbox.close();
      engine.close();
      store.close();
      await admin.close();
      log.info('gateway stopped');
    },
  };

}

function tlsFiles(config: GatewayConfig, baseDir: string): { tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer } } {
  const tls = config.central?.tls;
  if (!tls) return {};
  const read = (p: string | undefined) => (p ? readSecret({ file: p }, baseDir) : undefined);
  const out: { ca?: Buffer; cert?: Buffer; key?: Buffer } = {};
  const ca = read(tls.ca);
  const cert = read(tls.cert);
  const k = read(tls.key);
  if (ca) out.ca = ca;
  if (cert) out.cert = cert;
  if (k) out.key = k;
  return { tls: out };
}

