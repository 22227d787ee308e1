import { Registry } from 'prom-client';
import { Bus } from '../../gateway/bus/bus.js';
import { openSerialTransport } from '../../drivers/serial/transport.js';
import { encodeCard } from '../../drivers/wiegand/formats.js';
import { osdpDeviceSchema, type OsdpDeviceConfig } from '../../drivers/osdp/config.js';
import { createDriver } from '../../drivers/osdp/driver.js';
import { OsdpSimulator, type SimFeedback } from '../../drivers/osdp/sim.js';
import { createPtyPair, hasSocat } from '../../test/helpers/pty.js';
import { standaloneOsdpContext } from '../../drivers/osdp/standalone.js';

/**
 * `gatehouse bench osdp`: card presented at a simulated reader -> RAW reply to
 * the next POLL -> credential on the bus -> a trivial grant -> OUT/LED queued
 * -> the first of them received back at the simulator. Real serial I/O over a
 * socat PTY pair; the simulator paces its replies at the baud rate.
 * Targets (issue #4): p99 <= 60 ms with 4 readers at 115200; <= 100 ms with 1 reader at 9600.
 */
export async function run(options: Record<string, string | number | boolean>): Promise<Record<string, unknown>> {
  const readers = Number(options.readers ?? 4);
  const baud = Number(options.baud ?? 115200);
  const reads = Number(options.reads ?? 200);
  if (!hasSocat()) throw new Error('the osdp benchmark needs socat (apt-get install socat)');
  const pair = await createPtyPair();
  const simTransport = await openSerialTransport({ path: pair.device, baudRate: baud });
  const addresses = Array.from({ length: readers }, (_, i) => i);
  const sim = new OsdpSimulator({ transport: simTransport, baudRate: baud, readers: addresses.map((address) => ({ address })) });
  const bus = new Bus();
  const config: OsdpDeviceConfig = osdpDeviceSchema.parse({ id: 'bench', driver: 'osdp', path: pair.gateway, baudRate: baud, readers: addresses.map((address) => ({ address })) });
  const ctx = standaloneOsdpContext(config, bus, new Registry(), 'bench');
  const driver = createDriver(ctx);
  const online = new Set<string>();
  bus.on('device.status', (s) => {
    if (s.reader !== undefined && s.state === 'online') online.add(s.reader);
  });
  // The trivial decision: grant everything, pulse the relay for 3 s.
  bus.on('credential', (c) => {
    driver.feedback!(c.reader, {
      decision: { result: 'granted', reason: 'bench', laneId: 'bench', zoneId: 'bench', direction: 'in', flags: {}, at: c.at },
      pulseMs: 3000,
    });
  });
  const latencies: number[] = [];
  try {
    await driver.start();
    const startWait = performance.now();
    while (online.size < readers) {
      if (performance.now() - startWait > 15_000) throw new Error(`only ${online.size}/${readers} simulated readers came online`);
      await sleep(10);
    }
    const pollsBefore = totalPolls(sim);
    const t0 = performance.now();
    for (let i = 0; i < reads; i++) {
      const address = addresses[i % readers]!;
      const presented = performance.now();
      const first = waitFeedback(sim, address, (f) => f.command === 'OUT' || f.command === 'LED');
      const buzzer = waitFeedback(sim, address, (f) => f.command === 'BUZ');
      sim.presentCard(address, encodeCard('H10301', { facility: 1 + (i % 200), card: i % 65536 }));
      const f = await withTimeout(first, 5000, `no OUT/LED for read ${i}`);
      latencies.push(f.at - presented);
      await withTimeout(buzzer, 5000, `no BUZ for read ${i}`);
      // Random gap so reads land at every phase of the poll cycle.
      await sleep(Math.random() * 10);
    }
    const seconds = (performance.now() - t0) / 1000;
    latencies.sort((a, b) => a - b);
    return {
      readers,
      baud,
      reads,
      p50_ms: round(percentile(latencies, 0.5)),
      p99_ms: round(percentile(latencies, 0.99)),
      max_ms: round(latencies[latencies.length - 1] ?? NaN),
      osdp_errors: await errorCount(ctx.metrics),
      polls_per_s: round((totalPolls(sim) - pollsBefore) / seconds),
    };
  } finally {
    await driver.stop();
    sim.close();
    await simTransport.close();
    await pair.close();
  }
}

/** OSDP errors seen during the run, by `code:reason` (a clean run has none). */
async function errorCount(registry: Registry): Promise<Record<string, number>> {
  const metric = registry.getSingleMetric('gatehouse_osdp_errors_total');
  const out: Record<string, number> = {};
  for (const v of metric ? (await metric.get()).values : []) {
    const key = `${String(v.labels.code)}:${String(v.labels.reason)}`;
    out[key] = (out[key] ?? 0) + v.value;
  }
  return out;
}

function totalPolls(sim: OsdpSimulator): number {
  let n = 0;
  for (const v of sim.received.values()) n += v;
  return n;
}

function waitFeedback(sim: OsdpSimulator, address: number, match: (f: SimFeedback) => boolean): Promise<SimFeedback> {
  return new Promise((resolve) => {
    const listener = (f: SimFeedback) => {
      if (f.address === address && match(f)) {
        sim.off('feedback', listener);
        resolve(f);
      }
    };
    sim.on('feedback', listener);
  });
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]).finally(() => clearTimeout(timer));
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

const round = (n: number) => Math.round(n * 100) / 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

if (process.argv[1] !== undefined && /scripts[\\/]bench[\\/]osdp\.(ts|js)$/.test(process.argv[1])) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const options: Record<string, number> = {};
  for (const k of ['readers', 'baud', 'reads']) if (arg(k) !== undefined) options[k] = Number(arg(k));
  run(options).then(
    (r) => console.log(JSON.stringify(r)),
    (err: unknown) => {
      console.error((err as Error).message);
      process.exitCode = 1;
    },
  );
}
