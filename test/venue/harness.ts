import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { Registry } from 'prom-client';
import { stringify } from 'yaml';
import { openEntitlementStore, type EntitlementRecord } from '../../gateway/access/index.js';
import { systemClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/log.js';
import type { CloudEvent } from '../../gateway/events/cloudevent.js';
import { hashPassword } from '../../drivers/mqtt/password.js';
import { connectSimDevice, type SimDevice } from '../../drivers/mqtt/sim.js';

/** Debian package mosquitto; CI installs it. */
export const MOSQUITTO = process.env.MOSQUITTO_BIN ?? '/usr/sbin/mosquitto';
export const hasMosquitto = spawnSync(MOSQUITTO, ['-h']).error === undefined;

const BIN = fileURLToPath(new URL('../../bin/gatehouse.js', import.meta.url));
export const READER_PASSWORD = 'venue test reader password';

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** A real Mosquitto on 127.0.0.1, anonymous, without persistence; stop() and start() again keep its port. */
export interface Mosquitto {
  port: number;
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function mosquitto(dir: string): Promise<Mosquitto> {
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\nlog_type error\n`);
  let child: ChildProcess | undefined;
  let stderr = '';
  const m: Mosquitto = {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    async start() {
      child = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      await eventually(() => portOpen(port), `mosquitto on port ${port} (${stderr.trim()})`);
    },
    async stop() {
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null) return;
      const exited = new Promise((resolve) => c.once('exit', resolve));
      c.kill('SIGTERM');
      await exited;
    },
  };
  await m.start();
  return m;
}

export interface GatewaySpec {
  id: string;
  peers: string[];
  venueUrl: string;
  capacity: number;
  /** Lane option for an unverified shared anti-passback. */
  apbUnverified?: 'grant' | 'deny';
  records: EntitlementRecord[];
}

/** One `gatehouse run` process with two MQTT readers (lane `in`, lane `out`) on its embedded broker. */
export interface GatewayProcess {
  id: string;
  dir: string;
  readers: { in: SimDevice; out: SimDevice };
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  stop(): Promise<void>;
  /** Events in its outbox (read after stop). */
  events(): CloudEvent[];
  output(): string;
}

export async function startGatewayProcess(spec: GatewaySpec, baseDir: string): Promise<GatewayProcess> {
  const dir = join(baseDir, spec.id);
  const dataDir = join(dir, 'data');
  const keyText = 'k'.repeat(48);
  const passwordHash = await hashPassword(READER_PASSWORD, { N: 1024, r: 8, p: 1 });
  spawnSync('mkdir', ['-p', dataDir]);
  writeFileSync(join(dir, 'credential.key'), keyText, { mode: 0o600 });
  // Entitlements loaded before the gateway starts, as a snapshot from central would have left them.
  const store = openEntitlementStore({ dataDir, key: Buffer.from(keyText), clock: systemClock({ assumeSynced: true }), log: silentLogger(), metrics: new Registry() });
  await store.applySnapshot(
    (async function* () {
      yield* spec.records;
    })(),
    { version: 'v1', issuedAt: new Date().toISOString() },
  );
  store.close();
  const config = {
    gateway: { id: spec.id, venue: 'stadium', assumeClockSynced: true },
    storage: { dataDir: 'data' },
    secrets: { credentialKey: { file: 'credential.key' } },
    broker: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    devices: [
      { id: 'r-in', driver: 'mqtt', type: 'reader', passwordHash, limits: { publishPerSecond: 1000, publishBurst: 1000 } },
      { id: 'r-out', driver: 'mqtt', type: 'reader', passwordHash, limits: { publishPerSecond: 1000, publishBurst: 1000 } },
    ],
    zones: [{ id: 'bowl', capacity: spec.capacity, antiPassback: { mode: 'hard' } }],
    lanes: [
      { id: 'in', reader: { device: 'r-in' }, zone: 'bowl', direction: 'in', ...(spec.apbUnverified ? { apbUnverified: spec.apbUnverified } : {}) },
      { id: 'out', reader: { device: 'r-out' }, zone: 'bowl', direction: 'out' },
    ],
    venue: { id: 'stadium', url: spec.venueUrl, peers: spec.peers, keepaliveS: 2, reconnectMs: 200, snapshotIntervalMs: 250 },
  };
  const configFile = join(dir, 'gatehouse.yaml');
  writeFileSync(configFile, stringify(config));
  const child = spawn(process.execPath, [BIN, 'run', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GATEHOUSE_LOG_LEVEL: 'info' } });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const logged = <T>(msg: string, pick: (line: Record<string, unknown>) => T): T | undefined => {
    for (const line of out.split('\n')) {
      if (!line.includes(msg)) continue;
      try {
        return pick(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a JSON log line
      }
    }
    return undefined;
  };
  try {
    await eventually(() => child.exitCode === null && logged('gateway running', () => true) === true, `gateway ${spec.id} to start`, 30_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\n${out}`);
  }
  const tcp = logged('MQTT broker listening', (l) => (l.ports as { tcp: number }).tcp)!;
  const admin = logged('gateway running', (l) => l.admin as string)!;
  const reader = (id: string) => connectSimDevice({ url: `mqtt://127.0.0.1:${tcp}`, gatewayId: spec.id, id, type: 'reader', password: READER_PASSWORD });
  const readers = { in: await reader('r-in'), out: await reader('r-out') };
  let stopped = false;
  return {
    id: spec.id,
    dir,
    readers,
    output: () => out,
    async metric(name, labels = {}) {
      const text = await (await fetch(`${admin.replace(/\/$/, '')}/metrics`)).text();
      const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
      for (const line of text.split('\n')) {
        if (!line.startsWith(name)) continue;
        const rest = line.slice(name.length);
        if (!(rest.startsWith(' ') || rest.startsWith('{'))) continue;
        if (want.every((w) => rest.includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1));
      }
      return 0;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await Promise.allSettled([readers.in.close(), readers.out.close()]);
      if (child.exitCode === null) child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    },
    events() {
      const db = new Database(join(dataDir, 'outbox.db'), { readonly: true });
      try {
        return (db.prepare('SELECT body FROM outbox ORDER BY seq').all() as Array<{ body: string }>).map((r) => JSON.parse(r.body) as CloudEvent);
      } finally {
        db.close();
      }
    },
  };
}

export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
