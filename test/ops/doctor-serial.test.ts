import { afterEach, describe, expect, it } from 'vitest';
import { checkSerialPorts } from '../../gateway/ops/checks/serial.js';
import { createPtyPair, hasSocat, type PtyPair } from '../helpers/pty.js';
import { configYaml, opsFixture, type OpsFixture } from './helpers.js';

const socat = hasSocat();
if (!socat) console.warn('skipping doctor serial test on a real PTY: socat is not installed');

describe.skipIf(!socat)('doctor serial check on a real pseudo-terminal (needs socat)', () => {
  let pty: PtyPair | undefined;
  let fx: OpsFixture | undefined;
  afterEach(async () => {
    await pty?.close();
    fx?.cleanup();
  });

  it('opens the configured OSDP port through serialport, and fails once the adapter is gone', async () => {
    pty = await createPtyPair();
    fx = opsFixture();
    const ctx = fx.context(configYaml('', `devices:\n  - id: bus1\n    driver: osdp\n    path: ${pty.gateway}\n    baudRate: 9600\n    readers: [{ address: 1 }]`));
    // udev listing is machine-dependent; the configured path is what this test pins.
    const list = async () => ({ available: false as const, reason: 'not asked in this test' });
    const ok = await checkSerialPorts(ctx, { list });
    expect(ok.find((r) => r.name === 'serial bus1')).toMatchObject({ level: 'ok', detail: `${pty.gateway} opens at 9600 baud` });
    await pty.close();
    pty = undefined;
    const gone = await checkSerialPorts(ctx, { list });
    expect(gone.find((r) => r.name === 'serial bus1')).toMatchObject({ level: 'fail', detail: expect.stringContaining('does not exist') });
  });
});
