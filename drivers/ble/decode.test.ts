import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  beaconKey,
  decodeEddystoneUrl,
  encodeAdStructures,
  encodeEddystoneTlm,
  encodeEddystoneUid,
  encodeEddystoneUrl,
  encodeIBeacon,
  encodeUrlBytes,
  explainAdvertisement,
  normaliseUuid,
  parseAdStructures,
  parseAdvertisement,
  txPowerAt1m,
} from './decode.js';

const hex = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map((b) => Buffer.from(b).toString('hex'));
const uuidArb = hex(16).map((h) => `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`);
const ibeaconArb = fc.record({ uuid: uuidArb, major: fc.integer({ min: 0, max: 0xffff }), minor: fc.integer({ min: 0, max: 0xffff }), measuredPower: fc.integer({ min: -128, max: 127 }) });
const uidArb = fc.record({ txPower: fc.integer({ min: -128, max: 127 }), namespace: hex(10), instance: hex(6) });
const tlmArb = fc.record({
  batteryMv: fc.option(fc.integer({ min: 1, max: 0xffff }), { nil: undefined }),
  // 8.8 fixed point: any multiple of 1/256 in the int16 range except the 0x8000 "unsupported" marker.
  temperatureC: fc.option(fc.integer({ min: -32767, max: 32767 }).map((n) => n / 256), { nil: undefined }),
  advCount: fc.integer({ min: 0, max: 0xffffffff }),
  uptimeS: fc.integer({ min: 0, max: 0xffffffff }).map((n) => n / 10),
});
const urlCharArb = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-._~/?=&%'.split(''));
const urlArb = fc
  .tuple(fc.constantFrom('http://www.', 'https://www.', 'http://', 'https://'), fc.array(urlCharArb, { minLength: 1, maxLength: 10 }), fc.constantFrom('', '.com/', '.org', '.gov/x'))
  .map(([s, body, tail]) => s + body.join('') + tail);

describe('AD structures', () => {
  it('splits length-type-data structures and stops at a zero-length terminator followed by padding', () => {
    const r = parseAdStructures(Buffer.from('020106' + '03ff4c00' + '0000', 'hex'));
    expect(r.ok && r.value.map((s) => [s.typeName, s.data.toString('hex')])).toEqual([
      ['flags', '06'],
      ['manufacturer_specific_data', '4c00'],
    ]);
  });

  it('rejects a structure whose length runs past the end, naming the offset', () => {
    const r = parseAdStructures(Buffer.from('0201060aff4c00', 'hex'));
    expect(r).toEqual({ ok: false, reason: expect.stringContaining('offset 3') });
  });

  it('rejects empty input, garbage after the terminator and oversize input', () => {
    expect(parseAdStructures(Buffer.alloc(0)).ok).toBe(false);
    expect(parseAdStructures(Buffer.from('00', 'hex'))).toEqual({ ok: false, reason: 'advertisement holds no AD structure' });
    expect(parseAdStructures(Buffer.from('0201060001', 'hex')).ok).toBe(false);
    expect(parseAdStructures(Buffer.alloc(2000, 1)).ok).toBe(false);
  });
});

describe('iBeacon', () => {
  it('decodes a captured iBeacon (Apple AirLocate UUID, major 1, minor 2, -59 dBm)', () => {
    const r = parseAdvertisement(Buffer.from('0201061aff4c000215e2c56db5dffb48d2b060d0f5a71096e000010002c5', 'hex'));
    expect(r.ok && r.value.beacon).toEqual({ kind: 'ibeacon', uuid: 'e2c56db5-dffb-48d2-b060-d0f5a71096e0', major: 1, minor: 2, measuredPower: -59 });
  });

  it('round-trips any iBeacon through encode and parse', () => {
    fc.assert(
      fc.property(ibeaconArb, (b) => {
        const r = parseAdvertisement(encodeIBeacon(b));
        expect(r.ok && r.value.beacon).toEqual({ kind: 'ibeacon', ...b });
      }),
    );
  });

  it('rejects an iBeacon payload shortened by any number of bytes, with a reason', () => {
    fc.assert(
      fc.property(ibeaconArb, fc.integer({ min: 1, max: 21 }), (b, cut) => {
        const full = parseAdStructures(encodeIBeacon(b, { flags: false }));
        const payload = full.ok ? full.value[0]!.data : Buffer.alloc(0);
        const r = parseAdvertisement(encodeAdStructures([{ type: 0xff, data: payload.subarray(0, payload.length - cut) }]));
        expect(r.ok).toBe(false);
        expect(!r.ok && r.reason).toMatch(/iBeacon/);
      }),
    );
  });

  it('ignores other Apple and other vendors\' manufacturer data (no beacon, not an error)', () => {
    for (const adv of ['06ff4c0010020b', '05ff59000215']) {
      const r = parseAdvertisement(Buffer.from(adv, 'hex'));
      expect(r.ok).toBe(true);
      expect(r.ok && r.value.beacon).toBeUndefined();
    }
    expect(parseAdvertisement(Buffer.from('02ff4c', 'hex')).ok).toBe(false);
    expect(parseAdvertisement(Buffer.from('05ff4c000216', 'hex'))).toEqual({ ok: false, reason: expect.stringContaining('0x16') });
  });
});

describe('Eddystone', () => {
  it('round-trips UID frames and derives the 1 m power by subtracting 41 dBm', () => {
    fc.assert(
      fc.property(uidArb, (b) => {
        const r = parseAdvertisement(encodeEddystoneUid(b));
        expect(r.ok && r.value.beacon).toEqual({ kind: 'eddystone-uid', ...b });
        if (r.ok && r.value.beacon) expect(txPowerAt1m(r.value.beacon)).toBe(b.txPower - 41);
      }),
    );
  });

  it('accepts a UID frame without the two reserved bytes', () => {
    const r = parseAdvertisement(Buffer.from('1516aafe00e800112233445566778899aabbccddeeff', 'hex'));
    expect(r.ok && r.value.beacon).toEqual({ kind: 'eddystone-uid', txPower: -24, namespace: '00112233445566778899', instance: 'aabbccddeeff' });
  });

  it('round-trips URL frames with scheme prefixes and expansion codes', () => {
    fc.assert(
      fc.property(urlArb, fc.integer({ min: -100, max: 20 }), (url, txPower) => {
        fc.pre(encodeUrlBytes(url).length <= 18);
        const r = parseAdvertisement(encodeEddystoneUrl({ url, txPower }));
        expect(r.ok && r.value.beacon).toEqual({ kind: 'eddystone-url', txPower, url });
      }),
    );
  });

  it('decodes expansion codes from the Eddystone-URL table', () => {
    expect(decodeEddystoneUrl(Buffer.from([0x03, ...Buffer.from('goo.gl/'), 0x07]))).toEqual({ ok: true, value: 'https://goo.gl/.com' });
    expect(decodeEddystoneUrl(Buffer.from([0x00, ...Buffer.from('example'), 0x00]))).toEqual({ ok: true, value: 'http://www.example.com/' });
    expect(decodeEddystoneUrl(Buffer.from([0x04, 0x61])).ok).toBe(false);
    expect(decodeEddystoneUrl(Buffer.from([0x02, 0x0e])).ok).toBe(false);
    expect(decodeEddystoneUrl(Buffer.from([0x02, 0x80])).ok).toBe(false);
  });

  it('round-trips TLM frames: battery mV, 8.8 temperature, adv count and uptime', () => {
    fc.assert(
      fc.property(tlmArb, (t) => {
        const r = parseAdvertisement(encodeEddystoneTlm(t));
        const expected: Record<string, unknown> = { kind: 'eddystone-tlm', version: 0, advCount: t.advCount, uptimeS: t.uptimeS };
        if (t.batteryMv !== undefined) expected.batteryMv = t.batteryMv;
        if (t.temperatureC !== undefined) expected.temperatureC = t.temperatureC;
        expect(r.ok && r.value.beacon).toEqual(expected);
      }),
    );
  });

  it('decodes a TLM temperature of 0xFF80 as -0.5 degrees and 0x8000 as not supported', () => {
    const frame = (temp: string) => Buffer.from(`1116aafe2000` + '0bb8' + temp + '00000010' + '00000064', 'hex');
    const neg = parseAdvertisement(frame('ff80'));
    expect(neg.ok && neg.value.beacon).toEqual({ kind: 'eddystone-tlm', version: 0, batteryMv: 3000, temperatureC: -0.5, advCount: 16, uptimeS: 10 });
    const none = parseAdvertisement(frame('8000'));
    expect(none.ok && none.value.beacon && 'temperatureC' in none.value.beacon).toBe(false);
  });

  it('rejects encrypted or unknown TLM versions, short frames, and ignores EID frames', () => {
    expect(parseAdvertisement(Buffer.from('0516aafe2001', 'hex'))).toEqual({ ok: false, reason: expect.stringContaining('encrypted') });
    expect(parseAdvertisement(Buffer.from('0516aafe2007', 'hex'))).toEqual({ ok: false, reason: expect.stringContaining('version 7') });
    expect(parseAdvertisement(Buffer.from('0416aafe20', 'hex')).ok).toBe(false);
    expect(parseAdvertisement(Buffer.from('0416aafe10', 'hex')).ok).toBe(false);
    expect(parseAdvertisement(Buffer.from('0316aafe', 'hex')).ok).toBe(false);
    expect(parseAdvertisement(Buffer.from('0216aa', 'hex')).ok).toBe(false);
    for (const adv of ['0516aafe3000', '05160d180000']) {
      const r = parseAdvertisement(Buffer.from(adv, 'hex'));
      expect(r.ok && r.value.beacon).toBeUndefined();
      expect(r.ok).toBe(true);
    }
  });
});

describe('any advertisement', () => {
  const anyBeaconAdv = fc.oneof(
    ibeaconArb.map((b) => encodeIBeacon(b)),
    uidArb.map((b) => encodeEddystoneUid(b)),
    tlmArb.map((t) => encodeEddystoneTlm(t)),
  );

  it('rejects, with a reason, every cut that falls inside an AD structure', () => {
    fc.assert(
      fc.property(anyBeaconAdv, fc.nat(), (buf, n) => {
        const boundaries = new Set<number>();
        for (let i = 0; i < buf.length; i += buf[i]! + 1) boundaries.add(i);
        const cut = 1 + (n % (buf.length - 1));
        const r = parseAdvertisement(buf.subarray(0, cut));
        if (boundaries.has(cut)) expect(r.ok && r.value.beacon).toBeFalsy();
        else expect(r).toEqual({ ok: false, reason: expect.any(String) });
      }),
    );
  });

  it('never throws on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const r = parseAdvertisement(Buffer.from(bytes));
        expect(typeof r.ok).toBe('boolean');
        expect(typeof explainAdvertisement(Buffer.from(bytes).toString('hex'))).toBe('object');
      }),
      { numRuns: 2000 },
    );
  });

  it('reads flags, local name and TX power level structures', () => {
    const r = parseAdvertisement(Buffer.from('020106' + '0409676174' + '020af4', 'hex'));
    expect(r.ok && { flags: r.value.flags, name: r.value.localName, tx: r.value.txPowerLevel }).toEqual({ flags: 6, name: 'gat', tx: -12 });
    expect(parseAdvertisement(Buffer.from('0101', 'hex')).ok).toBe(false);
    expect(parseAdvertisement(Buffer.from('030a0102', 'hex')).ok).toBe(false);
  });
});

describe('explainAdvertisement and keys', () => {
  it('explains a captured iBeacon as JSON with its structures, frame and key', () => {
    const out = explainAdvertisement('02 01 06 1a ff 4c 00 02 15 e2 c5 6d b5 df fb 48 d2 b0 60 d0 f5 a7 10 96 e0 00 01 00 02 c5');
    expect(out).toMatchObject({
      ok: true,
      bytes: 30,
      structures: [{ type: '0x01', name: 'flags', length: 1, data: '06' }, { type: '0xff', name: 'manufacturer_specific_data', length: 25 }],
      beacon: { kind: 'ibeacon', major: 1, minor: 2, measuredPower: -59 },
      key: 'ibeacon:e2c56db5-dffb-48d2-b060-d0f5a71096e0:1:2',
    });
    expect(JSON.parse(JSON.stringify(out))).toEqual(out);
  });

  it('reports bad hex and malformed advertisements with GH_BLE_BAD_ADV', () => {
    expect(explainAdvertisement('abc')).toMatchObject({ ok: false, code: 'GH_BLE_BAD_ADV' });
    expect(explainAdvertisement('zz')).toMatchObject({ ok: false, code: 'GH_BLE_BAD_ADV' });
    expect(explainAdvertisement('0aff4c00')).toMatchObject({ ok: false, code: 'GH_BLE_BAD_ADV', bytes: 4 });
  });

  it('keys iBeacon and Eddystone-UID frames and gives URL/TLM frames no identity', () => {
    expect(beaconKey({ kind: 'eddystone-uid', txPower: 0, namespace: 'aa', instance: 'bb' })).toBe('eddystone:aa:bb');
    expect(beaconKey({ kind: 'eddystone-url', txPower: 0, url: 'x' })).toBeUndefined();
    expect(txPowerAt1m({ kind: 'eddystone-tlm', version: 0, advCount: 0, uptimeS: 0 })).toBeUndefined();
    expect(normaliseUuid('E2C56DB5DFFB48D2B060D0F5A71096E0')).toBe('e2c56db5-dffb-48d2-b060-d0f5a71096e0');
    expect(normaliseUuid('nope')).toBeUndefined();
  });
});
