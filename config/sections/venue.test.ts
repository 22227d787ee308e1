import { describe, expect, it } from 'vitest';
import { venueSchema } from './venue.js';

describe('venue config section', () => {
  it('fills defaults around the broker URL, venue id and peers', () => {
    expect(venueSchema.parse({ id: 'stadium', url: 'mqtts://broker.venue.lan:8883', peers: ['south'] })).toEqual({
      id: 'stadium',
      url: 'mqtts://broker.venue.lan:8883',
      peers: ['south'],
      topicPrefix: 'venue',
      maxClockSkewMs: 2000,
      snapshotIntervalMs: 2000,
      recentMovements: 10000,
      positionRetentionHours: 24,
      keepaliveS: 10,
      mqttVersion: 5,
      reconnectMs: 1000,
    });
  });

  it.each([
    ['an http URL', { url: 'http://broker' }],
    ['no peers', { peers: [] }],
    ['a wildcard in the prefix', { topicPrefix: 'venue/#' }],
    ['a prefix with a leading slash', { topicPrefix: '/venue' }],
    ['an inline password', { password: 'hunter2' }],
    ['an unknown key', { brokerUrl: 'mqtt://x' }],
    ['no position retention', { positionRetentionHours: 0 }],
  ])('rejects %s', (_what, over) => {
    expect(venueSchema.safeParse({ id: 'stadium', url: 'mqtt://broker', peers: ['south'], ...over }).success).toBe(false);
  });

  it('takes the password from a file or an environment variable', () => {
    expect(venueSchema.parse({ id: 's', url: 'mqtt://b', peers: ['x'], password: { file: 'secrets/venue.pw' } }).password).toEqual({ file: 'secrets/venue.pw' });
    expect(venueSchema.parse({ id: 's', url: 'mqtt://b', peers: ['x'], password: { env: 'VENUE_PW' } }).password).toEqual({ env: 'VENUE_PW' });
  });
});
