import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_MOVE_BYTES, decodeVenueMessage, encodeMove, encodeState, encodeSync, venueTopics, type OriginSnapshot, type VenueMovement } from './protocol.js';

const id = fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,15}$/);
const movement = (gatewayId: string, seq: number) =>
  fc.record({ holderRef: fc.option(fc.string({ minLength: 1, maxLength: 40 }), { nil: undefined }), zoneId: id, direction: fc.constantFrom('in' as const, 'out' as const), at: fc.integer({ min: 0, max: 4_000_000_000_000 }) }).map((m) => {
    const out: VenueMovement = { gatewayId, seq, zoneId: m.zoneId, direction: m.direction, at: m.at };
    if (m.holderRef !== undefined) out.holderRef = m.holderRef;
    return out;
  });
const bytes = (s: string) => Buffer.from(s, 'utf8');

describe('venue topics', () => {
  const t = venueTopics('venue', 'stadium');

  it('names the three per-gateway topics under prefix/venue', () => {
    expect([t.move('a'), t.state('a'), t.sync('a')]).toEqual(['venue/stadium/move/a', 'venue/stadium/state/a', 'venue/stadium/sync/a']);
    expect(t.filters).toEqual({ move: 'venue/stadium/move/+', state: 'venue/stadium/state/+', sync: 'venue/stadium/sync/+' });
  });

  it('parses only topics of this venue with a known type and one gateway level', () => {
    expect(t.parse('venue/stadium/move/gw-a')).toEqual({ type: 'move', gatewayId: 'gw-a' });
    expect(t.parse('venue/other/move/gw-a')).toBeUndefined();
    expect(t.parse('venue/stadium/evil/gw-a')).toBeUndefined();
    expect(t.parse('venue/stadium/move/gw-a/extra')).toBeUndefined();
  });
});

describe('decodeVenueMessage', () => {
  it('round-trips any movement through its wire form', () => {
    fc.assert(
      fc.property(id, fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), fc.nat(), (g, seq, sentAt) =>
        fc.assert(
          fc.property(movement(g, seq), (m) => {
            const r = decodeVenueMessage('move', g, bytes(encodeMove(m, sentAt)));
            expect(r).toEqual({ ok: true, message: { type: 'move', movement: m, sentAt } });
          }),
          { numRuns: 5 },
        ),
      ),
      { numRuns: 40 },
    );
  });

  it('round-trips any snapshot through its wire form', () => {
    fc.assert(
      fc.property(id, fc.uniqueArray(fc.tuple(id, fc.nat(1000), fc.nat(1000)), { maxLength: 5, selector: ([z]) => z }), fc.array(movement('x', 1), { maxLength: 30 }), (g, zones, moves) => {
        const counters = Object.fromEntries(zones.map(([z, i, o]) => [z, { in: i, out: o }]));
        const seq = zones.reduce((n, [, i, o]) => n + i + o, 0);
        const recent = moves.slice(0, seq).map((m, i) => ({ ...m, gatewayId: g, seq: seq - i }));
        const snap: OriginSnapshot = { gatewayId: g, seq, counters, recent };
        const r = decodeVenueMessage('state', g, bytes(encodeState(snap, 5)));
        expect(r).toEqual({ ok: true, message: { type: 'state', snapshot: snap, sentAt: 5 } });
      }),
      { numRuns: 60 },
    );
  });

  it('round-trips the catch-up marker', () => {
    expect(decodeVenueMessage('sync', 'a', bytes(encodeSync('a', 'n1', 9)))).toEqual({ ok: true, message: { type: 'sync', gatewayId: 'a', nonce: 'n1', sentAt: 9 } });
  });

  it('never throws on arbitrary bytes or arbitrary JSON', () => {
    fc.assert(
      fc.property(fc.constantFrom('move' as const, 'state' as const, 'sync' as const), fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.json().map(bytes), fc.jsonValue().map((v) => bytes(JSON.stringify({ v: 1, t: 'move', g: 'a', at: 1, s: v, z: v, d: v, a: v, h: v, c: v, r: v, n: v })))), (type, payload) => {
        const r = decodeVenueMessage(type, 'a', payload);
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 500 },
    );
  });

  it('rejects a payload that speaks for another gateway than its topic', () => {
    const m: VenueMovement = { gatewayId: 'b', seq: 1, zoneId: 'z', direction: 'in', at: 1 };
    expect(decodeVenueMessage('move', 'a', bytes(encodeMove(m, 1)))).toEqual({ ok: false, reason: 'topic_mismatch' });
  });

  it.each([
    ['not_json', '{'],
    ['not_object', '[1]'],
    ['version', '{"v":2,"t":"move"}'],
    ['type_mismatch', '{"v":1,"t":"state","g":"a","at":1}'],
    ['gateway_id', '{"v":1,"t":"move","g":"A!","at":1}'],
    ['sent_at', '{"v":1,"t":"move","g":"a","at":-1}'],
    ['seq', '{"v":1,"t":"move","g":"a","at":1,"s":0,"z":"z","d":"i","a":1}'],
    ['holder_ref', '{"v":1,"t":"move","g":"a","at":1,"s":1,"h":"","z":"z","d":"i","a":1}'],
    ['zone', '{"v":1,"t":"move","g":"a","at":1,"s":1,"z":"Z Z","d":"i","a":1}'],
    ['direction', '{"v":1,"t":"move","g":"a","at":1,"s":1,"z":"z","d":"x","a":1}'],
    ['at', '{"v":1,"t":"move","g":"a","at":1,"s":1,"z":"z","d":"i","a":1.5}'],
  ])('rejects a malformed move (%s)', (reason, json) => {
    expect(decodeVenueMessage('move', 'a', bytes(json))).toEqual({ ok: false, reason });
  });

  it.each([
    ['seq', '{"v":1,"t":"state","g":"a","at":1,"s":-1,"c":{},"r":[]}'],
    // A forged state: counters that no sequence of `s` movements can produce.
    ['counters_sum', '{"v":1,"t":"state","g":"a","at":1,"s":1,"c":{"z":[1000000,0]},"r":[]}'],
    ['counters', '{"v":1,"t":"state","g":"a","at":1,"s":1,"c":[],"r":[]}'],
    ['counters', '{"v":1,"t":"state","g":"a","at":1,"s":1,"c":{"z":[1]},"r":[]}'],
    ['recent', '{"v":1,"t":"state","g":"a","at":1,"s":1,"c":{"z":[1,0]},"r":{}}'],
    ['recent', '{"v":1,"t":"state","g":"a","at":1,"s":1,"c":{"z":[1,0]},"r":[[1,null,"z","i"]]}'],
    // A movement newer than the snapshot that carries it would be counted twice.
    ['recent', '{"v":1,"t":"state","g":"a","at":1,"s":1,"c":{"z":[1,0]},"r":[[2,null,"z","i",1]]}'],
  ])('rejects a malformed snapshot (%s)', (reason, json) => {
    expect(decodeVenueMessage('state', 'a', bytes(json))).toEqual({ ok: false, reason });
  });

  it('rejects a bad nonce and oversize payloads before parsing', () => {
    expect(decodeVenueMessage('sync', 'a', bytes('{"v":1,"t":"sync","g":"a","at":1,"n":""}'))).toEqual({ ok: false, reason: 'nonce' });
    expect(decodeVenueMessage('move', 'a', Buffer.alloc(MAX_MOVE_BYTES + 1, 0x20))).toEqual({ ok: false, reason: 'oversize' });
  });
});
