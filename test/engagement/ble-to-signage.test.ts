import { afterEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { configSchema } from '../../config/schema.js';
import { bleDeviceSchema } from '../../drivers/ble/config.js';
import { createDriver } from '../../drivers/ble/driver.js';
import { SimulatedAdvertiser } from '../../drivers/ble/sim.js';
import { Bus } from '../../gateway/bus/bus.js';
import { systemClock } from '../../gateway/core/clock.js';
import type { Driver } from '../../gateway/core/driver.js';
import { silentLogger } from '../../gateway/core/log.js';
import type { SignContent } from '../../gateway/core/signage.js';
import { eventFactory, type CloudEvent } from '../../gateway/events/cloudevent.js';
import { createEngagement, type Engagement } from '../../gateway/engagement/index.js';
import { EVENT_TYPES } from '../../gateway/engagement/event-schemas.js';

const UUID = 'f7826da6-4fa2-4e98-8024-bc5b71e0893e';

/**
 * The whole presence path with real sockets and the real clock: a phone
 * advertising into a simulated radio's Unix socket -> BLE driver -> bus ->
 * proximity tracker -> zone event in the outbox and rule content for the sign.
 */
describe.skipIf(process.platform === 'win32')('BLE advert to signage content', () => {
  let dir: string | undefined;
  let driver: Driver | undefined;
  let engagement: Engagement | undefined;
  let phone: SimulatedAdvertiser | undefined;

  afterEach(async () => {
    await phone?.close();
    await driver?.stop();
    await engagement?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = driver = engagement = phone = undefined;
  });

  it('a consenting holder walking up to the café radio gets the café content and a zone.entered event', async () => {
    dir = mkdtempSync(join(tmpdir(), 'gh-ble-e2e-'));
    const socket = join(dir, 'radio.sock');
    const config = configSchema.parse({
      gateway: { id: 'gw' },
      storage: { dataDir: dir },
      secrets: { credentialKey: { env: 'KEY' } },
      devices: [{ id: 'radio-cafe', driver: 'ble', radio: 'simulated', socket, zone: 'cafe', allowUuids: [UUID] }],
      zones: [{ id: 'cafe', pathLossExponent: 2 }],
      rules: [{ id: 'coffee', when: { event: 'zone.entered', zones: ['cafe'], tiers: ['gold'] }, send: { content: 'coffee-offer', signs: ['sign-cafe'] } }],
    });
    const bus = new Bus();
    const clock = systemClock({ assumeSynced: true });
    const metrics = new Registry();
    const events: CloudEvent[] = [];
    const sink = {
      append: (e: CloudEvent) => {
        events.push(e);
        return Promise.resolve();
      },
    };
    const makeEvent = eventFactory('gw');
    const sent: Array<{ sign: string; content: SignContent }> = [];
    engagement = createEngagement({
      config,
      bus,
      events: sink,
      makeEvent,
      publisher: { send: (sign, content) => sent.push({ sign, content }) > 0 },
      holders: { get: () => ({ tier: 'gold', consent: { personalisation: true } }), byBeacon: (key) => (key === `ibeacon:${UUID}:1:42` ? 'h-42' : undefined) },
      clock,
      log: silentLogger(),
      metrics,
      dataDir: dir,
    });
    engagement.start();
    const device = config.devices[0]!;
    driver = createDriver({ config: bleDeviceSchema.parse(device), gatewayId: 'gw', bus, log: silentLogger(), metrics, clock, events: sink, makeEvent });
    await driver.start();
    expect(driver.state()).toBe('online');

    phone = await SimulatedAdvertiser.connect(socket);
    phone.writeRaw('0aff4c00 -60\n');
    phone.advertise({ kind: 'ibeacon', uuid: '00000000-0000-0000-0000-000000000000', major: 1, minor: 42, measuredPower: -59 }, -60);
    for (let i = 0; i < 3; i++) phone.advertise({ kind: 'ibeacon', uuid: UUID, major: 1, minor: 42, measuredPower: -59 }, -61);
    await vi.waitFor(() => expect(sent).toHaveLength(1), { timeout: 10_000 });
    expect(sent[0]).toMatchObject({ sign: 'sign-cafe', content: { content: 'coffee-offer', ruleId: 'coffee', holderRef: 'h-42' } });
    expect(events.map((e) => [e.type, e.subject])).toEqual([[EVENT_TYPES.zoneEntered, 'h-42']]);
    const errors = (await metrics.getMetricsAsJSON()).find((m) => m.name === 'gatehouse_errors_total');
    expect(errors?.values.find((v) => v.labels.code === 'GH_BLE_BAD_ADV')?.value).toBe(1);
  });
});
