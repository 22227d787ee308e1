import type { EntitlementRecord } from '../../gateway/access/model.js';

/**
 * The demo venue's holders, published by the central stand-in. They match the
 * credentials the simulated readers in config/examples/demo.yaml present:
 * members 1001–1008, a blocked card (6666), an expired membership (7777), a
 * one-entry gym ticket, and an unknown card (99:12345) that is nobody's.
 */
export function demoEntitlements(now = Date.now()): EntitlementRecord[] {
  const day = 86_400_000;
  const iso = (t: number) => new Date(t).toISOString();
  const members: EntitlementRecord[] = Array.from({ length: 8 }, (_, i) => {
    const n = 1001 + i;
    const gym = n === 1001 || n === 1005;
    return {
      holder: `h-${n}`,
      tier: n <= 1002 ? 'gold' : 'standard',
      consent: { personalisation: n % 2 === 1, marketing: n % 2 === 1 },
      ...(n % 2 === 1 ? { displayName: `Member ${n}` } : {}),
      credentials: [{ kind: 'card', value: `10:${n}` }],
      validFrom: iso(now - 30 * day),
      validUntil: iso(now + 335 * day),
      zones: gym ? ['centre', 'gym'] : ['centre'],
    };
  });
  return [
    ...members,
    { holder: 'h-6666', credentials: [{ kind: 'card', value: '10:6666' }], zones: ['centre'], blocked: { reason: 'card reported stolen' } },
    { holder: 'h-7777', credentials: [{ kind: 'card', value: '10:7777' }], zones: ['centre'], validFrom: iso(now - 400 * day), validUntil: iso(now - 35 * day) },
    {
      holder: 'h-t0001',
      credentials: [{ kind: 'barcode', value: 'TICKET-0001' }],
      zones: ['gym'],
      limits: { total: 1 },
      event: { id: 'gym-class-1', start: iso(now - 3_600_000), end: iso(now + 3_600_000) },
    },
  ];
}
