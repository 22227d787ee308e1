import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Bus } from '../../gateway/bus/bus.js';
import type { Driver } from '../../gateway/core/driver.js';
import { osdpDeviceSchema } from '../../drivers/osdp/config.js';
import { createDriver } from '../../drivers/osdp/driver.js';
import { createPtyPair, hasSocat, type PtyPair } from '../helpers/pty.js';
import { standaloneOsdpContext } from '../../drivers/osdp/standalone.js';

const socat = hasSocat();
if (!socat) console.warn('socat is not installed: skipping the OSDP sim-main PTY test (apt-get install socat)');

describe.skipIf(!socat)('sim-main as a separate process (the demo / venue simulator path)', () => {
  let pair: PtyPair | undefined;
  let child: ChildProcess | undefined;
  let driver: Driver | undefined;
  afterEach(async () => {
    await driver?.stop();
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    await pair?.close();
  });

  it('takes a card on stdin and prints the OUT and LED lines the gateway sends back', async () => {
    pair = await createPtyPair();
    child = spawn(process.execPath, ['--import', 'tsx', 'drivers/osdp/sim-main.ts', '--port', pair.device, '--address', '0', '--address', '1'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines: string[] = [];
    const waiters: Array<() => void> = [];
    createInterface({ input: child.stdout! }).on('line', (l) => {
      lines.push(l);
      waiters.splice(0).forEach((w) => w());
    });
    const waitLine = (pred: (l: string) => boolean) =>
      new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching line; got ${JSON.stringify(lines)}`)), 20_000);
        const check = () => {
          const hit = lines.find(pred);
          if (hit) {
            clearTimeout(timer);
            resolve(hit);
          } else waiters.push(check);
        };
        check();
      });
    await waitLine((l) => l === 'ready');

    const bus = new Bus();
    const config = osdpDeviceSchema.parse({ id: 'lane-bus', driver: 'osdp', path: pair.gateway, readers: [{ address: 0 }, { address: 1 }] });
    const ctx = standaloneOsdpContext(config, bus);
    driver = createDriver(ctx);
    const reads: string[] = [];
    let online = 0;
    const bothOnline = new Promise<void>((resolve) =>
      bus.on('device.status', (s) => {
        if (s.reader !== undefined && s.state === 'online' && ++online === 2) resolve();
      }),
    );
    bus.on('credential', (c) => {
      reads.push(`${c.reader}:${c.credential.value}`);
      driver!.feedback!(c.reader, { decision: { result: 'granted', reason: 'ok', laneId: 'l', zoneId: 'z', direction: 'in', flags: {}, at: c.at }, pulseMs: 3000 });
    });
    await driver.start();
    await bothOnline;
    child.stdin!.write('card 1 H10301 12 3456\n');
    await waitLine((l) => l === 'led 1 green');
    expect(reads).toEqual(['1:12:3456']);
    expect(lines).toContain('out 1 0 5 3000');
    child.stdin!.write('dance 0\n');
    await waitLine((l) => l.startsWith('error unknown command'));
  });
});
