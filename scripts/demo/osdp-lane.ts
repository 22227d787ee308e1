import { openSerialTransport, type Transport } from '../../drivers/serial/transport.js';
import { DEFAULT_POLL_INTERVAL_MS } from '../../drivers/osdp/config.js';
import { OsdpSimulator, type SimFeedback } from '../../drivers/osdp/sim.js';
import { encodeCard } from '../../drivers/wiegand/formats.js';
import type { GatewayConfig } from '../../config/schema.js';
import { createPtyPair, hasSocat, type PtyPair } from '../../test/helpers/pty.js';

/**
 * The demo's OSDP turnstile: a simulated OSDP reader (the PD side of the
 * protocol, paced at 115200 baud) on one end of a socat PTY pair, the
 * gateway's OSDP driver on the other. Only when socat is installed; the
 * demo runs without it.
 */
export interface DemoOsdpLane {
  /** Adds the OSDP bus device and its lane to a config. */
  extend(config: GatewayConfig): GatewayConfig;
  /** Starts presenting members' cards (H10301, facility 10) at the reader. */
  start(ratePerSecond: number): void;
  readonly ledsShown: number;
  close(): Promise<void>;
}

const DEVICE_ID = 'turnstile-osdp';
const MEMBERS = [1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 6666];

export async function startDemoOsdpLane(): Promise<DemoOsdpLane | undefined> {
  if (!hasSocat()) return undefined;
  const pair: PtyPair = await createPtyPair();
  const transport: Transport = await openSerialTransport({ path: pair.device, baudRate: 115200 });
  const sim = new OsdpSimulator({ transport, baudRate: 115200, readers: [{ address: 0 }] });
  let ledsShown = 0;
  sim.on('feedback', (f: SimFeedback) => {
    if (f.command === 'LED') ledsShown++;
  });
  let timer: NodeJS.Timeout | undefined;
  let next = 0;
  return {
    extend: (config) => ({
      ...config,
      devices: [...config.devices, { id: DEVICE_ID, driver: 'osdp', path: pair.gateway, baudRate: 115200, readers: [{ address: 0, name: 'Turnstile 2 (OSDP)' }], replyTimeoutMs: 200, offlineAfterMs: 8000, pollIntervalMs: DEFAULT_POLL_INTERVAL_MS, thread: 'main', allowRaw: false, feedback: { ledMs: 2000, grantedColor: 'green', deniedColor: 'red', deniedFlash: true, buzzer: true, text: false, output: 0 } }],
      lanes: [...config.lanes, { id: 'entrance-2', name: 'Main entrance, OSDP turnstile', reader: { device: DEVICE_ID, reader: '0' }, output: { device: DEVICE_ID, pulseMs: 800 }, zone: 'centre', direction: 'in', fail: 'closed', maxCacheAgeHours: 72 }],
    }),
    start(ratePerSecond) {
      timer = setInterval(() => {
        const card = MEMBERS[next++ % MEMBERS.length]!;
        sim.presentCard(0, encodeCard('H10301', { facility: 10, card }));
      }, 1000 / ratePerSecond);
      timer.unref();
    },
    get ledsShown() {
      return ledsShown;
    },
    async close() {
      if (timer) clearInterval(timer);
      sim.close();
      await transport.close();
      await pair.close();
    },
  };
}
