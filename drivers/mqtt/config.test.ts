import { describe, expect, it } from 'vitest';
import { brokerSchema } from '../../config/sections/broker.js';
import { mqttDeviceSchema, usernameOf } from './config.js';

const hash = `scrypt$16384$8$1$${Buffer.alloc(16, 1).toString('base64url')}$${Buffer.alloc(32, 2).toString('base64url')}`;

describe('mqtt device config', () => {
  it('fills limits and grants with defaults and uses the id as username', () => {
    const d = mqttDeviceSchema.parse({ id: 'sign-1', driver: 'mqtt', type: 'sign', passwordHash: hash });
    expect(d.limits).toEqual({ maxPayloadBytes: 16_384, publishPerSecond: 20, publishBurst: 40, maxConnections: 4 });
    expect(d.grants).toEqual([]);
    expect(usernameOf(d)).toBe('sign-1');
    expect(usernameOf({ ...d, username: 'vendor.sign_1' })).toBe('vendor.sign_1');
  });

  it('refuses a clear-text password where the hash belongs', () => {
    const r = mqttDeviceSchema.safeParse({ id: 's', driver: 'mqtt', type: 'sign', passwordHash: 'hunter2' });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toContain('gatehouse device add');
  });

  it('refuses grants on $-topics, misplaced "#", and unknown types', () => {
    expect(mqttDeviceSchema.safeParse({ id: 's', driver: 'mqtt', type: 'sign', passwordHash: hash, grants: [{ topic: '$SYS/#' }] }).success).toBe(false);
    expect(mqttDeviceSchema.safeParse({ id: 's', driver: 'mqtt', type: 'sign', passwordHash: hash, grants: [{ topic: 'a/#/b' }] }).success).toBe(false);
    expect(mqttDeviceSchema.safeParse({ id: 's', driver: 'mqtt', type: 'turnstile', passwordHash: hash }).success).toBe(false);
  });

  it('refuses a username with ":" (it separates the client-id suffix)', () => {
    expect(mqttDeviceSchema.safeParse({ id: 's', driver: 'mqtt', type: 'sign', passwordHash: hash, username: 'a:b' }).success).toBe(false);
  });
});

describe('broker config', () => {
  it('defaults to plain TCP on 1883 with bounded limits', () => {
    const b = brokerSchema.parse({});
    expect(b).toMatchObject({ host: '0.0.0.0', port: 1883 });
    expect(b.limits.drainTimeoutMs).toBeGreaterThan(0);
    expect(b.tls).toBeUndefined();
  });

  it('requires cert and key for TLS and a path starting with / for WebSocket', () => {
    expect(brokerSchema.safeParse({ tls: { port: 8883 } }).success).toBe(false);
    expect(brokerSchema.safeParse({ ws: { path: 'mqtt' } }).success).toBe(false);
    expect(brokerSchema.parse({ port: false, ws: {} }).ws).toEqual({ port: 8080, path: '/mqtt' });
  });
});
