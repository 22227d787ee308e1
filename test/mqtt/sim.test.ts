import { afterEach, describe, expect, it } from 'vitest';
import type { BusTopics } from '../../gateway/bus/bus.js';
import { connectSimDevice, type SimDevice } from '../../drivers/mqtt/sim.js';
import { GW, PASSWORD, deviceConfig, eventually, startHarness, type Harness } from './harness.js';

describe('simulated MQTT devices against the real bus', () => {
  let h: Harness | undefined;
  const sims: SimDevice[] = [];
  afterEach(async () => {
    await Promise.all(sims.splice(0).map((s) => s.close().catch(() => undefined)));
    await h?.mqttBus.stop();
  });

  it('plays reader, sign, kiosk and app through the whole contract', async () => {
    h = await startHarness([await deviceConfig('r1', 'reader'), await deviceConfig('s1', 'sign'), await deviceConfig('k1', 'kiosk'), await deviceConfig('p1', 'app')]);
    const reader = h.mqttBus.drivers().find((d) => d.id === 'r1')!;
    h.bus.on('credential', (read) =>
      reader.feedback!(read.reader, { decision: { result: 'granted', reason: 'ok', laneId: 'l', zoneId: 'z', direction: 'in', flags: {}, at: 0 }, pulseMs: 300 }),
    );
    const acks: Array<BusTopics['signage.ack']> = [];
    const interactions: Array<BusTopics['interaction']> = [];
    const sightings: Array<BusTopics['sighting']> = [];
    h.bus.on('signage.ack', (a) => acks.push(a));
    h.bus.on('interaction', (i) => interactions.push(i));
    h.bus.on('sighting', (s) => sightings.push(s));
    const base = { url: h.url, gatewayId: GW, password: PASSWORD };
    const [r, s, k, p] = await Promise.all([
      connectSimDevice({ ...base, id: 'r1', type: 'reader' }),
      connectSimDevice({ ...base, id: 's1', type: 'sign', onContent: (c) => (c.priority > 0 ? 'shown' : 'skipped') }),
      connectSimDevice({ ...base, id: 'k1', type: 'kiosk' }),
      connectSimDevice({ ...base, id: 'p1', type: 'app', clientSuffix: 'phone' }),
    ]);
    sims.push(r, s, k, p);
    expect(await r.scan({ kind: 'barcode', value: 'T-1' }, 'in')).toMatchObject({ result: 'granted', reader: 'in', pulseMs: 300 });
    expect(h.mqttBus.publisher.send('s1', { contentId: 'c1', content: 'promo', durationMs: 1, priority: 1, ruleId: 'rule-1' })).toBe(true);
    expect(h.mqttBus.publisher.send('s1', { contentId: 'c2', content: 'promo', durationMs: 1, priority: 0 })).toBe(true);
    await k.interact('menu', 'tap', 'h-1');
    await p.sighting('cafe', -70);
    await eventually(() => acks.length === 2 && interactions.length === 1 && sightings.length === 1);
    expect(acks.map((a) => [a.contentId, a.status, a.ruleId])).toEqual([
      ['c1', 'shown', 'rule-1'],
      ['c2', 'skipped', undefined],
    ]);
    expect(s.contents.map((c) => c.contentId)).toEqual(['c1', 'c2']);
  });
});
