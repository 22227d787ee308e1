import { describe, expect, it } from 'vitest';
import { configSchema } from '../schema.js';
import { engagementSchema, ruleSchema } from './engagement.js';

const base = {
  gateway: { id: 'gw' },
  storage: { dataDir: 'data' },
  secrets: { credentialKey: { env: 'KEY' } },
  zones: [{ id: 'main' }],
  lanes: [],
};

function problems(extra: Record<string, unknown>): string[] {
  const r = configSchema.safeParse({ ...base, ...extra });
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('engagement config', () => {
  it('fills every proximity default from an empty section', () => {
    const e = engagementSchema.parse({});
    expect(e.proximity).toMatchObject({ smoothing: 'kalman', enterDistanceM: 4, exitDistanceM: 7, minDwellMs: 10_000 });
    expect(e.seasonStart).toBe('01-01');
  });

  it('rejects an exit distance inside the enter distance (no hysteresis) and bad RSSI bounds', () => {
    expect(engagementSchema.safeParse({ proximity: { enterDistanceM: 5, exitDistanceM: 5 } }).success).toBe(false);
    expect(engagementSchema.safeParse({ proximity: { rssiMin: -20, rssiMax: -30 } }).success).toBe(false);
    expect(engagementSchema.safeParse({ seasonStart: '13-01' }).success).toBe(false);
  });

  it('names beacons, radios and rules that point at unknown zones or lanes, and duplicate ids', () => {
    expect(
      problems({
        devices: [{ id: 'r1', driver: 'ble', zone: 'nowhere' }],
        beacons: [
          { id: 'b1', zone: 'cafe' },
          { id: 'b1', zone: 'main' },
        ],
        rules: [
          { id: 'x', when: { event: 'zone.entered', zones: ['cafe'], lanes: ['l9'] }, send: { content: 'c', signs: ['s'] } },
          { id: 'x', when: { event: 'visit.started' }, send: { content: 'c', signs: ['s'] } },
        ],
      }),
    ).toEqual([
      'devices.0.zone: no zone "nowhere" in zones',
      'beacons.0.zone: no zone "cafe" in zones',
      'beacons.1.id: duplicate id "b1"',
      'rules.0.when.zones.0: no zone "cafe" in zones',
      'rules.0.when.lanes.0: no lane "l9" in lanes',
      'rules.1.id: duplicate id "x"',
    ]);
  });

  it('accepts a valid beacon and rule, and rejects a beacon that is both iBeacon and Eddystone', () => {
    expect(problems({ beacons: [{ id: 'b', zone: 'main', ibeacon: { uuid: 'E2C56DB5DFFB48D2B060D0F5A71096E0', major: 1, minor: 2 } }] })).toEqual([]);
    expect(
      problems({ beacons: [{ id: 'b', zone: 'main', ibeacon: { uuid: 'e2c56db5-dffb-48d2-b060-d0f5a71096e0', major: 1, minor: 2 }, eddystone: { namespace: '00112233445566778899', instance: 'aabbccddeeff' } }] }),
    ).toHaveLength(1);
    expect(ruleSchema.safeParse({ id: 'r', when: { event: 'nope' }, send: { content: 'c', signs: ['s'] } }).success).toBe(false);
    expect(ruleSchema.parse({ id: 'r', when: { event: ['zone.entered', 'zone.dwelled'] }, send: { content: 'c', signs: ['s'] } })).toMatchObject({ personalised: true, priority: 100, controlGroupPercent: 0 });
  });
});
