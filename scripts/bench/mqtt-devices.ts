/**
 * The simulated devices of `bench mqtt`, run in a child process so their
 * client-side work does not share the gateway's event loop (real devices are
 * separate machines). Driven by scripts/bench/mqtt.ts over the IPC channel.
 */
import { performance } from 'node:perf_hooks';
import { connectSimDevice, type SimDevice } from '../../drivers/mqtt/sim.js';
import type { MqttDeviceType } from '../../drivers/mqtt/config.js';

export interface DevicesPlan {
  url: string;
  gatewayId: string;
  password: string;
  devices: Array<{ id: string; type: MqttDeviceType }>;
  scans: number;
  contents: number;
  background: boolean;
}

export type ToDevices = { cmd: 'plan'; plan: DevicesPlan } | { cmd: 'scan' } | { cmd: 'stop' };
export type FromDevices =
  | { msg: 'ready'; connectMs: number }
  | { msg: 'scanned'; rtt: number[] }
  | { msg: 'content'; received: Array<[string, number]> }
  | { msg: 'error'; error: string };

/** Wall-clock with sub-millisecond resolution, comparable between two processes on one machine. */
export const preciseNow = (): number => performance.timeOrigin + performance.now();

function send(m: FromDevices): void {
  process.send!(m);
}

async function main(plan: DevicesPlan): Promise<void> {
  const sims = new Map<string, SimDevice>();
  const received: Array<[string, number]> = [];
  const t0 = performance.now();
  await Promise.all(
    plan.devices.map(async (d) => {
      const sim = await connectSimDevice({
        url: plan.url,
        gatewayId: plan.gatewayId,
        id: d.id,
        type: d.type,
        password: plan.password,
        mqtt: { keepalive: 60, connectTimeout: 60_000 },
        onContent: (content) => {
          received.push([content.contentId, preciseNow()]);
          if (received.length === plan.contents) send({ msg: 'content', received });
          return 'shown';
        },
      });
      sims.set(d.id, sim);
    }),
  );
  const kiosks = plan.devices.filter((d) => d.type === 'kiosk').map((d) => sims.get(d.id)!);
  const background = setInterval(() => {
    if (plan.background) for (const k of kiosks) void k.interact('menu', 'view');
  }, 200);
  send({ msg: 'ready', connectMs: performance.now() - t0 });

  process.on('message', (m: ToDevices) => {
    if (m.cmd === 'scan') {
      const readers = plan.devices.filter((d) => d.type === 'reader').map((d) => sims.get(d.id)!);
      const perReader = Math.ceil(plan.scans / readers.length);
      const rtt: number[] = [];
      void Promise.all(
        readers.map(async (sim) => {
          for (let n = 0; n < perReader; n++) {
            const start = performance.now();
            await sim.scan({ kind: 'barcode', value: `TICKET-${n}` });
            rtt.push(performance.now() - start);
          }
        }),
      ).then(() => send({ msg: 'scanned', rtt }));
    } else if (m.cmd === 'stop') {
      clearInterval(background);
      void Promise.all([...sims.values()].map((s) => s.client.endAsync(true).catch(() => undefined))).then(() => process.exit(0));
    }
  });
}

if (process.send) {
  process.once('message', (m: ToDevices) => {
    if (m.cmd !== 'plan') return;
    main(m.plan).catch((err: unknown) => {
      send({ msg: 'error', error: String(err) });
      process.exit(1);
    });
  });
}
