import { afterEach, describe, expect, it } from 'vitest';
import { createPtyPair, hasSocat, type PtyPair } from '../helpers/pty.js';
import { readerContext } from './context.js';
import { openSerialTransport, type Transport } from '../../drivers/serial/transport.js';
import { serialReaderDeviceSchema } from '../../drivers/serial-reader/config.js';
import { createSerialReaderDriver } from '../../drivers/serial-reader/driver.js';
import { simulatedSerialReader } from '../../drivers/serial-reader/sim.js';
import type { Driver } from '../../gateway/core/driver.js';

const socat = hasSocat();
if (!socat) console.warn('serial-reader PTY tests skipped: socat is not installed (apt-get install socat)');

describe.skipIf(!socat)('serial reader over a socat PTY pair', () => {
  let pty: PtyPair | undefined;
  let device: Transport | undefined;
  let driver: Driver | undefined;
  afterEach(async () => {
    await driver?.stop();
    await device?.close();
    await pty?.close();
    driver = undefined;
    device = undefined;
    pty = undefined;
  });

  it('turns RDM6300 frames sent in odd chunks into credentials and counts a corrupted one', async () => {
    pty = await createPtyPair();
    const config = serialReaderDeviceSchema.parse({
      id: 'rdm1',
      driver: 'serial-reader',
      path: pty.gateway,
      baudRate: 9600,
      framing: { delimiter: { kind: 'stx-etx' }, encoding: 'ascii-hex', checksum: 'xor', dropBytes: 1 },
    });
    const t = readerContext(config);
    driver = createSerialReaderDriver(t.ctx);
    await driver.start();
    expect(driver.state()).toBe('online');
    device = await openSerialTransport({ path: pty.device, baudRate: 9600 });
    const reader = simulatedSerialReader(device, config.framing);
    await reader.present('0F00A6D2E5', 3);
    await reader.garbage(Buffer.from('\x020F00A6D2E59F\x03', 'latin1'));
    await reader.present('0100000001', 5);
    await expect.poll(() => t.seen('credential').length, { timeout: 10_000 }).toBe(2);
    expect(t.seen('credential').map((c) => c.credential.value)).toEqual(['10932965', '1']);
    expect(await t.count('gatehouse_reader_rejects_total', { device: 'rdm1', code: 'GH_SERIAL_READER_FRAME' })).toBe(1);
  });

  it('reports offline with the reason when the port does not exist and keeps running', async () => {
    const config = serialReaderDeviceSchema.parse({ id: 'gone', driver: 'serial-reader', path: '/dev/does-not-exist-gh', framing: { delimiter: { kind: 'line' } } });
    const t = readerContext(config);
    driver = createSerialReaderDriver(t.ctx);
    await driver.start();
    expect(driver.state()).toBe('offline');
    expect(t.seen('device.status').at(-1)).toMatchObject({ state: 'offline', reason: expect.stringContaining('/dev/does-not-exist-gh') });
    expect(await t.count('gatehouse_reader_rejects_total', { device: 'gone', code: 'GH_SERIAL_OPEN' })).toBe(1);
  });
});
