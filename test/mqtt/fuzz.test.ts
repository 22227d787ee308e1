import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectPacket, rawSocket } from './raw.js';
import { PASSWORD, device, deviceConfig, startHarness, type Harness } from './harness.js';

/** Hostile bytes on the MQTT port (DESIGN.md "Reliability promises": bad input never takes the gateway down). */
describe('garbage on the MQTT port', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness([await deviceConfig('r1', 'reader')], { limits: { connectTimeoutMs: 500, maxPacketBytes: 8192 } });
  });
  afterAll(async () => {
    await h.mqttBus.stop();
  });

  async function sendAndHangUp(bytes: Uint8Array): Promise<void> {
    const s = await rawSocket(h.ports.tcp!);
    s.on('error', () => undefined);
    s.on('data', () => undefined);
    await new Promise<void>((resolve) => s.write(bytes, () => resolve()));
    await new Promise((r) => setTimeout(r, 5));
    s.destroy();
  }

  it('survives random bytes, and random bytes after a valid CONNECT, then still serves a real device', async () => {
    const valid = connectPacket('r1', 'r1', PASSWORD, 30);
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 512 }), fc.boolean(), async (junk, afterConnect) => {
        await sendAndHangUp(afterConnect ? Buffer.concat([valid, junk]) : junk);
      }),
      { numRuns: 60 },
    );
    const client = await device(h.url, 'r1');
    expect(client.connected).toBe(true);
    await client.endAsync();
  });
});
