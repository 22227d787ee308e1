import { Aedes, type AedesPublishPacket, type AuthenticateError, type Client, type PublishPacket, type Subscription } from 'aedes';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { Counter, Gauge, type Registry } from 'prom-client';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { z } from 'zod';
import type { BrokerConfig } from '../../config/sections/broker.js';
import { resolveFromConfig } from '../../config/secrets.js';
import type { Bus } from '../../gateway/bus/bus.js';
import type { Clock } from '../../gateway/core/clock.js';
import type { Driver, LaneFeedback } from '../../gateway/core/driver.js';
import type { Logger } from '../../gateway/core/log.js';
import type { ContentPublisher, SignContent } from '../../gateway/core/signage.js';
import type { DeviceState } from '../../gateway/core/types.js';
import { GatehouseError, type ErrorCode } from '../../gateway/errors.js';
import type { EventFactory, EventSink } from '../../gateway/events/cloudevent.js';
import { INBOUND_LEAVES, TOPIC_ROOT, canPublish, canSubscribe, deviceTopic, gatewayStatusTopic, resolveGrants, type AclSubject } from './acl.js';
import { usernameOf, type MqttDeviceConfig, type MqttGrant } from './config.js';
import { createPacketSizeScanner } from './framelimit.js';
import { DEFAULT_SCRYPT, parsePasswordHash, verifyPassword, type ParsedHash } from './password.js';
import {
  ackPayload,
  decodePayload,
  interactionPayload,
  scanPayload,
  sightingPayload,
  statusPayload,
  type ContentPayload,
  type DecisionPayload,
  type InboundLeaf,
} from './payloads.js';
import { TokenBucket } from './ratelimit.js';

export interface MqttBusOptions {
  /** The parsed `broker:` section. */
  broker: BrokerConfig;
  /** The `devices:` entries whose driver is `mqtt`. */
  devices: MqttDeviceConfig[];
  gatewayId: string;
  /** Directory of the config file: TLS cert/key paths resolve against it. */
  baseDir: string;
  bus: Bus;
  log: Logger;
  metrics: Registry;
  clock: Clock;
  events: EventSink;
  makeEvent: EventFactory;
}

export interface MqttBus {
  /** Binds the listeners; port 0 in config binds an ephemeral port, reported here. */
  start(): Promise<{ ports: { tcp?: number; tls?: number; ws?: number } }>;
  /** Publishes retained offline status, closes every client and listener. */
  stop(): Promise<void>;
  /** Sends rule-triggered content to `gatehouse/<gw>/<sign>/content`. */
  readonly publisher: ContentPublisher;
  /** One driver per configured MQTT device (state, and `feedback` for readers). Call again after `updateDevices`. */
  drivers(): Driver[];
  /**
   * Applies a changed `devices:` list (config reload) without a restart: new devices may connect at once,
   * removed ones are disconnected, changed ones (e.g. a rotated password) are disconnected and must log in
   * again; unchanged devices keep their connections and drivers. Throws GH_CONFIG_INVALID and changes
   * nothing when the list is invalid.
   */
  updateDevices(devices: MqttDeviceConfig[]): void;
  clientsConnected(): number;
}

/** A decision given later than synchronously still answers the reader's latest scan if it is this recent. */
const LATE_FEEDBACK_MS = 5_000;
/** After a failed login, password checks from that address run one at a time for this long. */
const AUTH_FAILURE_MEMORY_MS = 60_000;
/** How long a taken-over device may take to complete its new connection before it is reported offline. */
const TAKEOVER_GRACE_MS = 2_000;
/** Content ids remembered per sign to match acks (and refuse acks for content never sent). */
const MAX_SENT_CONTENT = 256;

interface PendingScan {
  id: string;
  reader: string | undefined;
  monoAt: number;
  answered: boolean;
}

interface DeviceEntry {
  config: MqttDeviceConfig;
  id: string;
  username: string;
  hash: ParsedHash;
  acl: AclSubject;
  inbound: ReadonlySet<string>;
  log: Logger;
  state: DeviceState;
  /** Live connections: the client id is the username, or `<username>:<suffix>` for a device with several. */
  clients: Set<Client>;
  bucket: TokenBucket;
  /** The scan whose credential is on the bus right now: feedback given synchronously answers exactly it. */
  scanInFlight: PendingScan | undefined;
  /** The latest scan nobody answered synchronously, for a decision that comes later. */
  unanswered: PendingScan | undefined;
  sentContent: Map<string, { ruleId: string | undefined; holderRef: string | undefined }>;
}

interface Metrics {
  connected: Gauge<never>;
  online: Gauge<'device'>;
  messages: Counter<'device' | 'topic' | 'direction'>;
  rejected: Counter<'device' | 'code'>;
}

function registerMetrics(registry: Registry): Metrics {
  const registers = [registry];
  return {
    connected: new Gauge({ name: 'gatehouse_mqtt_clients_connected', help: 'MQTT clients connected to the embedded broker.', registers }),
    online: new Gauge({ name: 'gatehouse_mqtt_device_online', help: '1 when the MQTT device is connected.', labelNames: ['device'], registers }),
    messages: new Counter({
      name: 'gatehouse_mqtt_messages_total',
      help: 'MQTT messages accepted from devices (in) and sent to them (out), by device and topic leaf.',
      labelNames: ['device', 'topic', 'direction'],
      registers,
    }),
    rejected: new Counter({
      name: 'gatehouse_mqtt_rejected_total',
      help: 'MQTT connections and messages refused, by device ("unknown" before authentication) and GH_MQTT_* code.',
      labelNames: ['device', 'code'],
      registers,
    }),
  };
}

function authError(message: string, returnCode: 2 | 3 | 4 | 5): AuthenticateError {
  // aedes types returnCode as a const enum, which isolatedModules cannot reference: the numbers are MQTT 3.1.1 §3.2.2.3.
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

export function createMqttBus(opts: MqttBusOptions): MqttBus {
  const { gatewayId, bus, clock, log } = opts;
  const limits = opts.broker.limits;
  const m = registerMetrics(opts.metrics);

  /** Builds and checks the device table; throws GH_CONFIG_INVALID before anything is changed. */
  function buildEntries(configs: MqttDeviceConfig[]): Map<string, DeviceEntry> {
    const entries = new Map<string, DeviceEntry>();
    const usernames = new Map<string, string>();
    for (const config of configs) {
      const hash = parsePasswordHash(config.passwordHash);
      if (!hash) throw new GatehouseError('GH_CONFIG_INVALID', `device ${config.id}: passwordHash is not a scrypt hash`, { device: config.id });
      const username = usernameOf(config);
      const other = usernames.get(username);
      if (other !== undefined) throw new GatehouseError('GH_CONFIG_INVALID', `devices ${config.id} and ${other} share the MQTT username "${username}"`);
      usernames.set(username, config.id);
      const grants: MqttGrant[] = resolveGrants(config.grants, gatewayId);
      entries.set(config.id, {
        config,
        id: config.id,
        username,
        hash,
        acl: { deviceId: config.id, grants },
        inbound: new Set(INBOUND_LEAVES[config.type]),
        log: log.child({ device: config.id }),
        state: 'offline',
        clients: new Set(),
        bucket: new TokenBucket(config.limits.publishPerSecond, config.limits.publishBurst, clock.monotonic()),
        scanInFlight: undefined,
        unanswered: undefined,
        sentContent: new Map(),
      });
    }
    return entries;
  }
  const indexByUsername = (entries: Map<string, DeviceEntry>) => new Map([...entries.values()].map((e) => [e.username, e]));
  let byId = buildEntries(opts.devices);
  let byUsername = indexByUsername(byId);
  for (const id of byId.keys()) m.online.set({ device: id }, 0);
  // Unknown usernames still cost one scrypt, so a guesser cannot tell them from wrong passwords by timing.
  const decoyHash: ParsedHash = { ...DEFAULT_SCRYPT, salt: randomBytes(16), hash: randomBytes(32) };

  const deviceOf = new WeakMap<Client, DeviceEntry>();
  const keepaliveOf = new WeakMap<Client, number>();
  const closeReason = new WeakMap<Client, string>();
  const remoteOf = new WeakMap<Client, string>();
  /** Remote address -> monotonic time of its last failed login. */
  const authFailures = new Map<string, number>();
  const authQueues = new Map<string, Promise<unknown>>();

  function serialize<T>(key: string, task: () => Promise<T>): Promise<T> {
    const run = (authQueues.get(key) ?? Promise.resolve()).then(task, task);
    const tail = run.catch(() => undefined);
    authQueues.set(key, tail);
    void tail.then(() => {
      if (authQueues.get(key) === tail) authQueues.delete(key);
    });
    return run;
  }

  function pruneAuthFailures(): void {
    const now = clock.monotonic();
    for (const [address, at] of authFailures) if (now - at >= AUTH_FAILURE_MEMORY_MS) authFailures.delete(address);
  }
  /** Connections being taken over by a new connection with the same client id (MQTT-3.1.4-2). */
  const replaced = new WeakSet<Client>();
  const sockets = new Set<Socket>();
  let stopping = false;

  function countError(code: ErrorCode, device: string): void {
    m.rejected.inc({ device, code });
    // Also the gateway-wide error counter, when the core registered it on this registry.
    const errors = opts.metrics.getSingleMetric('gatehouse_errors_total') as Counter<'code'> | undefined;
    errors?.inc({ code });
  }

  /** Refuses one message: logged with its code, counted, and told to the device on `…/error`. */
  function refuseMessage(dev: DeviceEntry, code: ErrorCode, topic: string, message: string): void {
    dev.log.warn({ code, topic, reason: message }, 'mqtt message refused');
    countError(code, dev.id);
    publishJson(deviceTopic(gatewayId, dev.id, 'error'), { code, topic, message }, 0, false);
  }

  function publishJson(topic: string, body: unknown, qos: 0 | 1, retain: boolean): void {
    const packet: PublishPacket = { cmd: 'publish', topic, payload: Buffer.from(JSON.stringify(body)), qos, retain, dup: false };
    aedes.publish(packet, (err) => {
      if (err) log.warn({ code: 'GH_INTERNAL', topic, err: err.message }, 'mqtt publish failed');
    });
  }

  function setState(dev: DeviceEntry, state: DeviceState, reason?: string): void {
    if (dev.state === state) return;
    dev.state = state;
    const at = clock.now();
    m.online.set({ device: dev.id }, state === 'online' ? 1 : 0);
    bus.emit('device.status', reason === undefined ? { deviceId: dev.id, state, at } : { deviceId: dev.id, state, reason, at });
    // The composition root turns device.status into io.gatehouse.device.* events for every driver alike.
  }

  const aedes = new Aedes({
    id: `gatehouse-${gatewayId}`,
    connectTimeout: limits.connectTimeoutMs,
    drainTimeout: limits.drainTimeoutMs,
    maxClientsIdLength: 64,
    // The gateway's own subtree is 4 levels deep; nothing legitimate needs more than a few extra.
    maxTopicLevels: 16,
    preConnect(client, packet, done) {
      keepaliveOf.set(client, packet.keepalive ?? 0);
      done(null, true);
    },
    authenticate(client, username, password, done) {
      const dev = username === undefined ? undefined : byUsername.get(username);
      const refuse = (reason: string, returnCode: 2 | 3 | 4 | 5, code: ErrorCode = 'GH_MQTT_AUTH') => {
        log.warn({ code, username, clientId: client.id, reason }, 'mqtt connection refused');
        countError(code, dev?.id ?? 'unknown');
        done(authError(reason, returnCode), false);
      };
      // scrypt runs on libuv's thread pool, never on the event loop; at most one per open socket (maxConnections bounds
      // them), and one at a time for an address that failed recently, so a password guesser costs at most one thread.
      const address = remoteOf.get(client) ?? 'unknown';
      const check = () => verifyPassword(password ?? Buffer.alloc(0), dev?.hash ?? decoyHash);
      const recentFailure = authFailures.get(address);
      const verified = recentFailure !== undefined && clock.monotonic() - recentFailure < AUTH_FAILURE_MEMORY_MS ? serialize(address, check) : check();
      verified.then(
        (good) => {
          if (!dev || !good || password === undefined) {
            authFailures.set(address, clock.monotonic());
            if (authFailures.size > 1024) pruneAuthFailures();
            return refuse(dev ? 'wrong password' : 'unknown username', 4);
          }
          // Binding the client id to the username means a device can only ever take over its own session (MQTT-3.1.4-2).
          // ":" cannot occur in a username, so "<username>:<suffix>" can never name another device's session.
          if (client.id !== dev.username && !client.id.startsWith(`${dev.username}:`)) return refuse(`client id must be "${dev.username}" or "${dev.username}:<suffix>"`, 2);
          const previous = [...dev.clients].find((c) => c.id === client.id);
          if (previous) replaced.add(previous);
          if (!previous && dev.clients.size >= dev.config.limits.maxConnections) return refuse(`device already has ${dev.clients.size} connections`, 3, 'GH_MQTT_CONNECTIONS');
          const keepalive = keepaliveOf.get(client) ?? 0;
          if (keepalive < 1 || keepalive > limits.maxKeepaliveS) return refuse(`keepalive must be 1..${limits.maxKeepaliveS} s (half-open connections are found by it), got ${keepalive}`, 5);
          const will = (client as unknown as { _will?: PublishPacket | null })._will; // aedes keeps the CONNECT will here until storeWill
          if (will) {
            const verdict = canPublish(dev.acl, gatewayId, will.topic);
            if (!verdict.ok) return refuse(`last will on ${will.topic}: ${verdict.reason}`, 5, 'GH_MQTT_ACL');
            if (will.payload.length > dev.config.limits.maxPayloadBytes) return refuse('last will payload over the device maximum', 5, 'GH_MQTT_OVERSIZE');
          }
          deviceOf.set(client, dev);
          done(null, true);
        },
        (err: unknown) => refuse(`password check failed: ${String(err)}`, 5),
      );
    },
    authorizePublish(client, packet, done) {
      const dev = client ? deviceOf.get(client) : byUsername.get(((packet as { clientId?: string }).clientId ?? '').split(':')[0]!);
      if (!dev) return done(new Error('not authenticated'));
      const verdict = canPublish(dev.acl, gatewayId, packet.topic);
      if (!verdict.ok) {
        dev.log.warn({ code: 'GH_MQTT_ACL', topic: packet.topic, reason: verdict.reason }, 'mqtt publish denied; disconnecting');
        countError('GH_MQTT_ACL', dev.id);
        if (client) closeReason.set(client, `GH_MQTT_ACL: publish to ${packet.topic}`);
        return done(new Error(`publish to ${packet.topic} denied: ${verdict.reason}`));
      }
      if (packet.payload.length > dev.config.limits.maxPayloadBytes) {
        dev.log.warn({ code: 'GH_MQTT_OVERSIZE', topic: packet.topic, bytes: packet.payload.length, max: dev.config.limits.maxPayloadBytes }, 'mqtt payload too large; disconnecting');
        countError('GH_MQTT_OVERSIZE', dev.id);
        if (client) closeReason.set(client, 'GH_MQTT_OVERSIZE');
        return done(new Error('payload too large'));
      }
      // Retained messages live in broker memory: only a device's own status may be retained, so a device
      // cannot fill the store by publishing retained messages on ever new topics of its subtree.
      if (packet.retain && packet.topic !== deviceTopic(gatewayId, dev.id, 'status')) packet.retain = false;
      // A last will is published as the client closes: it is the device's last word, not a flood.
      const isWill = client === null || client.closed;
      if (!isWill && !dev.bucket.take(clock.monotonic())) {
        dev.log.warn({ code: 'GH_MQTT_RATE', topic: packet.topic, perSecond: dev.config.limits.publishPerSecond }, 'mqtt publish rate exceeded; disconnecting');
        countError('GH_MQTT_RATE', dev.id);
        closeReason.set(client, 'GH_MQTT_RATE');
        return done(new Error('publish rate exceeded'));
      }
      done(null);
    },
    authorizeSubscribe(client, sub, done) {
      const dev = deviceOf.get(client);
      const verdict = dev ? canSubscribe(dev.acl, gatewayId, sub.topic) : { ok: false as const, reason: 'not authenticated' };
      if (!verdict.ok) {
        (dev?.log ?? log).warn({ code: 'GH_MQTT_ACL', filter: sub.topic, reason: verdict.reason }, 'mqtt subscribe denied');
        countError('GH_MQTT_ACL', dev?.id ?? 'unknown');
        // A null subscription answers SUBACK 0x80 (MQTT 3.1.1 §3.9.3) and keeps the connection.
        return done(null, null);
      }
      done(null, sub as Subscription);
    },
    published(packet, client, done) {
      if (client) dispatch(packet, client);
      done(null);
    },
  });

  aedes.on('clientReady', (client) => {
    const dev = deviceOf.get(client);
    if (!dev) return;
    dev.clients.add(client);
    m.connected.set(aedes.connectedClients);
    dev.log.info({ clientId: client.id }, 'mqtt device connected');
    if (dev.clients.size > 1) return;
    publishJson(deviceTopic(gatewayId, dev.id, 'status'), { state: 'online' }, 1, true);
    setState(dev, 'online');
  });

  aedes.on('clientDisconnect', (client) => {
    m.connected.set(aedes.connectedClients);
    const dev = deviceOf.get(client);
    if (!dev || !dev.clients.delete(client)) return;
    const reason = stopping ? 'gateway stopping' : (closeReason.get(client) ?? 'disconnected');
    dev.log.info({ clientId: client.id, reason }, 'mqtt device disconnected');
    if (dev.clients.size > 0) return;
    if (replaced.has(client) && !stopping) {
      // The same client id reconnected (typically after a half-open link): no offline/online flicker in the
      // events; only if the new connection does not complete does the device go offline.
      setTimeout(() => {
        if (dev.clients.size === 0) goOffline(dev, reason);
      }, TAKEOVER_GRACE_MS).unref();
      return;
    }
    goOffline(dev, reason);
  });

  function goOffline(dev: DeviceEntry, reason: string): void {
    dev.unanswered = undefined;
    // The gateway writes the retained status itself, so it is right even for a device that set no last will.
    publishJson(deviceTopic(gatewayId, dev.id, 'status'), { state: 'offline', reason }, 1, true);
    setState(dev, 'offline', reason);
  }

  aedes.on('keepaliveTimeout', (client) => {
    closeReason.set(client, 'keepalive timeout');
  });

  aedes.on('clientError', (client, err) => {
    if (!closeReason.has(client)) closeReason.set(client, err.message);
    const dev = deviceOf.get(client);
    (dev?.log ?? log).debug({ err: err.message }, 'mqtt client error');
  });

  aedes.on('connectionError', (client, err) => {
    log.debug({ clientId: client.id, err: err.message }, 'mqtt connection error before CONNECT completed');
  });

  function dispatch(packet: AedesPublishPacket, client: Client): void {
    const dev = deviceOf.get(client);
    if (!dev) return;
    const prefix = `${TOPIC_ROOT}/${gatewayId}/${dev.id}/`;
    if (!packet.topic.startsWith(prefix)) return;
    const leaf = packet.topic.slice(prefix.length);
    if (!dev.inbound.has(leaf)) return;
    const decode = <T>(schema: z.ZodType<T>): T | undefined => {
      const decoded = decodePayload(schema, packet.payload as Buffer);
      if (decoded.ok) {
        m.messages.inc({ device: dev.id, topic: leaf, direction: 'in' });
        return decoded.value;
      }
      refuseMessage(dev, decoded.code, packet.topic, decoded.message);
      return undefined;
    };
    const handler = handlers[leaf as InboundLeaf];
    handler(dev, packet.topic, decode);
  }

  type Decode = <T>(schema: z.ZodType<T>) => T | undefined;
  /** One handler per inbound topic leaf (STYLE.md "One handler per message"). */
  const handlers: Record<InboundLeaf, (dev: DeviceEntry, topic: string, decode: Decode) => void> = {
    status(dev, _topic, decode) {
      const status = decode(statusPayload);
      if (status) dev.log.debug({ state: status.state, reason: status.reason }, 'device reported status');
    },
    scan(dev, _topic, decode) {
      const scan = decode(scanPayload);
      if (!scan) return;
      const pending: PendingScan = { id: scan.id, reader: scan.reader, monoAt: clock.monotonic(), answered: false };
      const { kind, value, format } = scan.credential;
      // The access engine answers synchronously on the bus (DESIGN.md "Data flow"), so the decision can carry
      // exactly this scan's id; a scan the engine did not answer never shifts the ids of later ones.
      dev.scanInFlight = pending;
      try {
        bus.emit('credential', {
          deviceId: dev.id,
          ...(scan.reader === undefined ? {} : { reader: scan.reader }),
          credential: format === undefined ? { kind, value } : { kind, value, format },
          at: clock.now(),
          monoAt: pending.monoAt,
        });
      } finally {
        dev.scanInFlight = undefined;
      }
      dev.unanswered = pending.answered ? undefined : pending;
    },
    interaction(dev, _topic, decode) {
      const i = decode(interactionPayload);
      if (!i) return;
      bus.emit('interaction', {
        deviceId: dev.id,
        item: i.item,
        action: i.action,
        at: clock.now(),
        ...(i.holderRef === undefined ? {} : { holderRef: i.holderRef }),
        ...(i.data === undefined ? {} : { data: i.data }),
      });
    },
    ack(dev, topic, decode) {
      const ack = decode(ackPayload);
      if (!ack) return;
      const sent = dev.sentContent.get(ack.contentId);
      if (!sent) return refuseMessage(dev, 'GH_MQTT_PAYLOAD', topic, `unknown contentId "${ack.contentId}" (not sent to this sign, or already acknowledged)`);
      dev.sentContent.delete(ack.contentId);
      bus.emit('signage.ack', {
        deviceId: dev.id,
        contentId: ack.contentId,
        status: ack.status,
        at: clock.now(),
        ...(sent.holderRef === undefined ? {} : { holderRef: sent.holderRef }),
        ...(sent.ruleId === undefined ? {} : { ruleId: sent.ruleId }),
      });
    },
    sighting(dev, _topic, decode) {
      const s = decode(sightingPayload);
      if (!s) return;
      bus.emit('sighting', {
        observer: dev.id,
        beacon: s.beacon,
        rssi: s.rssi,
        at: clock.now(),
        monoAt: clock.monotonic(),
        ...(s.txPower === undefined ? {} : { txPower: s.txPower }),
        ...(s.holderRef === undefined ? {} : { holderRef: s.holderRef }),
      });
    },
  };

  const publisher: ContentPublisher = {
    send(signId: string, content: SignContent): boolean {
      const dev = byId.get(signId);
      if (!dev || dev.config.type !== 'sign' || dev.clients.size === 0) return false;
      dev.sentContent.set(content.contentId, { ruleId: content.ruleId, holderRef: content.holderRef });
      if (dev.sentContent.size > MAX_SENT_CONTENT) dev.sentContent.delete(dev.sentContent.keys().next().value as string);
      // ruleId and holderRef stay in the gateway: a sign needs what to show, not who it is for.
      const body: ContentPayload = {
        contentId: content.contentId,
        content: content.content,
        durationMs: content.durationMs,
        priority: content.priority,
        ...(content.vars === undefined ? {} : { vars: content.vars }),
        at: new Date(clock.now()).toISOString(),
      };
      publishJson(deviceTopic(gatewayId, dev.id, 'content'), body, 1, false);
      m.messages.inc({ device: dev.id, topic: 'content', direction: 'out' });
      return true;
    },
  };

  function makeDriver(dev: DeviceEntry): Driver {
    const driver: Driver = {
      id: dev.id,
      // The broker's lifecycle belongs to MqttBus.start/stop; a device driver only reflects its client.
      start: async () => {},
      stop: async () => {},
      state: () => dev.state,
    };
    if (dev.config.type === 'reader') {
      driver.feedback = (reader: string | undefined, fb: LaneFeedback) => {
        let pending = dev.scanInFlight;
        if (!pending && dev.unanswered && clock.monotonic() - dev.unanswered.monoAt <= LATE_FEEDBACK_MS) pending = dev.unanswered;
        if (pending) pending.answered = true;
        if (pending === dev.unanswered) dev.unanswered = undefined;
        const body: DecisionPayload = {
          id: pending?.id ?? '',
          result: fb.decision.result,
          reason: fb.decision.reason,
          pulseMs: fb.decision.result === 'granted' ? fb.pulseMs : 0,
          at: new Date(fb.decision.at).toISOString(),
        };
        const echoedReader = reader ?? pending?.reader;
        if (echoedReader !== undefined) body.reader = echoedReader;
        if (fb.decision.display !== undefined) body.display = fb.decision.display;
        publishJson(deviceTopic(gatewayId, dev.id, 'decision'), body, 1, false);
        m.messages.inc({ device: dev.id, topic: 'decision', direction: 'out' });
      };
    }
    return driver;
  }
  const driverById = new Map<string, { entry: DeviceEntry; driver: Driver }>([...byId.values()].map((e) => [e.id, { entry: e, driver: makeDriver(e) }]));

  function updateDevices(configs: MqttDeviceConfig[]): void {
    const next = buildEntries(configs);
    for (const [id, old] of byId) {
      const fresh = next.get(id);
      if (fresh && JSON.stringify(fresh.config) === JSON.stringify(old.config)) {
        next.set(id, old);
        continue;
      }
      // Removed or changed (password rotated, type, grants, limits): its connections were admitted under
      // the old entry, so they are closed; a device still in the config reconnects under the new one.
      for (const client of old.clients) {
        closeReason.set(client, fresh ? 'device config changed' : 'device removed from config');
        client.close();
      }
      if (!fresh) driverById.delete(id);
    }
    byId = next;
    byUsername = indexByUsername(next);
    for (const entry of byId.values()) {
      if (driverById.get(entry.id)?.entry !== entry) driverById.set(entry.id, { entry, driver: makeDriver(entry) });
    }
    log.info({ devices: byId.size }, 'mqtt device table updated');
  }

  const servers: Array<NetServer | TlsServer | HttpServer> = [];
  let wss: WebSocketServer | undefined;

  function accept(conn: Duplex, socket: Socket, req?: IncomingMessage): void {
    if (stopping || sockets.size >= limits.maxConnections) {
      log.warn({ code: 'GH_MQTT_CONNECTIONS', remote: socket.remoteAddress, max: limits.maxConnections }, 'mqtt connection refused: connection limit reached');
      countError('GH_MQTT_CONNECTIONS', 'unknown');
      conn.destroy();
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    // Nagle would hold small decision packets back by up to ~40 ms.
    socket.setNoDelay(true);
    socket.setKeepAlive(true, limits.tcpKeepaliveMs);
    const client = aedes.handle(conn, req);
    remoteOf.set(client, socket.remoteAddress ?? 'unknown');
    const scanner = createPacketSizeScanner(limits.maxPacketBytes);
    // Added after aedes.handle so aedes' 'readable' listener keeps control of the flow: 'data' only observes.
    conn.on('data', (chunk: Buffer) => {
      const verdict = scanner.feed(chunk);
      if (verdict.ok) return;
      const dev = deviceOf.get(client);
      const code: ErrorCode = verdict.reason === 'oversize' ? 'GH_MQTT_OVERSIZE' : 'GH_MQTT_PAYLOAD';
      (dev?.log ?? log).warn({ code, remote: socket.remoteAddress, ...(verdict.reason === 'oversize' ? { bytes: verdict.declaredBytes, max: limits.maxPacketBytes } : {}) }, `mqtt packet ${verdict.reason}; disconnecting`);
      countError(code, dev?.id ?? 'unknown');
      closeReason.set(client, code);
      conn.destroy();
    });
  }

  function listen(server: NetServer | TlsServer | HttpServer, port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        servers.push(server);
        resolve((server.address() as AddressInfo).port);
      });
    });
  }

  function readPem(path: string, what: string): Buffer {
    const full = resolveFromConfig(opts.baseDir, path);
    try {
      return readFileSync(full);
    } catch (err) {
      throw new GatehouseError('GH_CONFIG_SECRET', `cannot read broker TLS ${what} ${full}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { file: full }, { cause: err });
    }
  }

  async function closeServer(server: NetServer | TlsServer | HttpServer): Promise<void> {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  return {
    publisher,
    drivers: () => [...driverById.values()].map((d) => d.driver),
    updateDevices,
    clientsConnected: () => aedes.connectedClients ?? 0,

    async start() {
      const cfg = opts.broker;
      // Read key files first so a bad path fails before anything listens.
      const tlsFiles = cfg.tls ? { cert: readPem(cfg.tls.cert, 'certificate'), key: readPem(cfg.tls.key, 'key') } : undefined;
      await aedes.listen();
      const ports: { tcp?: number; tls?: number; ws?: number } = {};
      try {
        if (cfg.port !== false) {
          const server = createNetServer((socket) => accept(socket, socket));
          ports.tcp = await listen(server, cfg.port, cfg.host);
        }
        if (cfg.tls && tlsFiles) {
          const server = createTlsServer({ ...tlsFiles, minVersion: 'TLSv1.2' }, (socket) => accept(socket, socket));
          server.on('tlsClientError', (err) => log.debug({ err: err.message }, 'mqtt TLS handshake failed'));
          ports.tls = await listen(server, cfg.tls.port, cfg.tls.host ?? cfg.host);
        }
        if (cfg.ws) {
          const server = createHttpServer((_req, res) => {
            res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket only\n');
          });
          // A ws message carries whole MQTT packets: the same hard cap applies (plus framing slack).
          wss = new WebSocketServer({ server, path: cfg.ws.path, maxPayload: limits.maxPacketBytes + 16 });
          wss.on('connection', (ws, req) => accept(createWebSocketStream(ws), req.socket, req));
          ports.ws = await listen(server, cfg.ws.port, cfg.ws.host ?? cfg.host);
        }
      } catch (err) {
        await Promise.all(servers.splice(0).map(closeServer));
        await new Promise<void>((resolve) => aedes.close(() => resolve()));
        throw new GatehouseError('GH_DRIVER_FAILED', `mqtt broker cannot listen: ${(err as Error).message}`, {}, { cause: err });
      }
      publishJson(gatewayStatusTopic(gatewayId), { state: 'online' }, 1, true);
      log.info({ ports, devices: byId.size }, 'mqtt broker listening');
      return { ports };
    },

    async stop() {
      if (stopping) return;
      stopping = true;
      publishJson(gatewayStatusTopic(gatewayId), { state: 'offline', reason: 'gateway stopping' }, 1, true);
      for (const dev of byId.values()) {
        if (dev.clients.size > 0) publishJson(deviceTopic(gatewayId, dev.id, 'status'), { state: 'offline', reason: 'gateway stopping' }, 1, true);
      }
      const closing = servers.splice(0).map(closeServer);
      wss?.clients.forEach((ws) => ws.terminate());
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      // Sockets that never completed CONNECT are not aedes clients yet.
      for (const socket of sockets) socket.destroy();
      wss?.close();
      await Promise.all(closing);
      for (const dev of byId.values()) setState(dev, 'stopped', 'gateway stopping');
      m.connected.set(0);
      log.info('mqtt broker stopped');
    },
  };
}
