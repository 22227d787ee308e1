import { createCipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { crc16, decodeFrames } from './frame.js';
import {
  SCBK_D,
  SecureChannel,
  clientCryptogram,
  computeMac,
  decryptData,
  deriveSessionKeys,
  encryptData,
  initialRmac,
  serverCryptogram,
} from './secure-channel.js';

const hex = (s: string) => Buffer.from(s.replace(/\s/g, ''), 'hex');

// SIA OSDP 2.2 Annex E secure-channel example, as reproduced in libosdp
// tests/unit-tests/test-sc-sia-vectors.c (test_scbkd_vectors): SCBK-D, RND.A (CP) = B0..B7, RND.B (PD) = A0..A7.
const RND_A = hex('B0 B1 B2 B3 B4 B5 B6 B7');
const RND_B = hex('A0 A1 A2 A3 A4 A5 A6 A7');
const S_ENC = 'bf8dc2a8329acb8c67c6d0cd9a451682';
const S_MAC1 = '5e86c676603bdee2d8beafe178637332';
const S_MAC2 = '6fda86e857777e81132035758239172e';
const CLIENT_CRYPTOGRAM = 'fde5d2f428ec16312471ea3c02bd7796'; // "client cryptogram" (PD, in CCRYPT)
const SERVER_CRYPTOGRAM = '26d3356e07762d262801fc8e6665a891'; // "host/server cryptogram" (CP, in SCRYPT)
const RMAC_I = 'b2a30057eb98ba2229ec1f875662b524';

describe('secure channel key schedule (Annex E vectors)', () => {
  const keys = deriveSessionKeys(SCBK_D, RND_A);
  it('derives S-ENC, S-MAC1 and S-MAC2 from SCBK-D and RND.A', () => {
    expect(keys.sEnc.toString('hex')).toBe(S_ENC);
    expect(keys.sMac1.toString('hex')).toBe(S_MAC1);
    expect(keys.sMac2.toString('hex')).toBe(S_MAC2);
  });
  it('computes the client and server cryptograms', () => {
    expect(clientCryptogram(keys, RND_A, RND_B).toString('hex')).toBe(CLIENT_CRYPTOGRAM);
    expect(serverCryptogram(keys, RND_A, RND_B).toString('hex')).toBe(SERVER_CRYPTOGRAM);
  });
  it('computes the initial R-MAC', () => {
    expect(initialRmac(keys, hex(SERVER_CRYPTOGRAM)).toString('hex')).toBe(RMAC_I);
  });
});

describe('data blocks and MACs', () => {
  const keys = deriveSessionKeys(SCBK_D, RND_A);
  const iv = hex(RMAC_I);

  it('encrypts with 0x80 padding and decrypts back, for any data length', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), (arr) => {
        const data = Buffer.from(arr);
        const enc = encryptData(keys, iv, data);
        expect(enc.length % 16).toBe(0);
        expect(enc.length).toBeGreaterThan(data.length);
        expect(decryptData(keys, iv, enc)!.equals(data)).toBe(true);
      }),
    );
  });

  it('refuses a block decrypted with the wrong chain value or of a bad length', () => {
    const enc = encryptData(keys, iv, Buffer.from('hello'));
    const other = Buffer.alloc(16, 7);
    const out = decryptData(keys, other, enc);
    // Wrong IV only garbles the first block; with one block the end marker is almost surely lost.
    expect(out === undefined || !out.equals(Buffer.from('hello'))).toBe(true);
    expect(decryptData(keys, iv, Buffer.alloc(15))).toBeUndefined();
    expect(decryptData(keys, iv, Buffer.alloc(0))).toBeUndefined();
  });

  it('gives a different MAC for any changed byte and for a different chain value', () => {
    const msg = Buffer.from('5301100015156000', 'hex');
    const mac = computeMac(keys, iv, msg);
    expect(computeMac(keys, iv, msg).equals(mac)).toBe(true);
    for (let i = 0; i < msg.length; i++) {
      const m = Buffer.from(msg);
      m[i]! ^= 1;
      expect(computeMac(keys, iv, m).equals(mac)).toBe(false);
    }
    expect(computeMac(keys, Buffer.alloc(16), msg).equals(mac)).toBe(false);
    // Block-aligned input takes the no-padding path and still chains through S-MAC1.
    expect(computeMac(keys, iv, Buffer.alloc(32, 1)).length).toBe(16);
  });
});

describe('block-by-block CBC on reusable ciphers matches plain AES-CBC (wire bytes unchanged)', () => {
  const keys = deriveSessionKeys(SCBK_D, RND_A);
  /** The textbook construction, one Cipher object per call, as Annex D.5/D.6 describe it. */
  const cbc = (key: Buffer, iv: Buffer, data: Buffer) => {
    const c = createCipheriv('aes-128-cbc', key, iv);
    c.setAutoPadding(false);
    return Buffer.concat([c.update(data), c.final()]);
  };
  const pad = (b: Buffer) => (b.length > 0 && b.length % 16 === 0 ? b : Buffer.concat([b, Buffer.from([0x80]), Buffer.alloc(15 - (b.length % 16))]));
  const referenceMac = (iv: Buffer, covered: Buffer) => {
    const p = pad(covered);
    const chain = p.length > 16 ? cbc(keys.sMac1, iv, p.subarray(0, p.length - 16)).subarray(-16) : iv;
    return cbc(keys.sMac2, chain, p.subarray(p.length - 16));
  };
  const referenceEncrypt = (otherMac: Buffer, data: Buffer) => cbc(keys.sEnc, Buffer.from(otherMac.map((x) => ~x & 0xff)), Buffer.concat([data, Buffer.from([0x80]), Buffer.alloc(15 - (data.length % 16))]));
  const bytes = (max: number) => fc.uint8Array({ minLength: 0, maxLength: max }).map((a) => Buffer.from(a));

  it('computes the same MAC and ciphertext for any length and chain value', () => {
    fc.assert(
      fc.property(bytes(80), fc.uint8Array({ minLength: 16, maxLength: 16 }), (data, ivArr) => {
        const iv = Buffer.from(ivArr);
        expect(computeMac(keys, iv, data).toString('hex')).toBe(referenceMac(iv, data).toString('hex'));
        expect(encryptData(keys, iv, data).toString('hex')).toBe(referenceEncrypt(iv, data).toString('hex'));
      }),
    );
  });

  it('seals the same frames as before the change (POLL, RAW, LED, ACK with the Annex E keys)', () => {
    const cp = new SecureChannel('cp', keys, hex(RMAC_I));
    const pd = new SecureChannel('pd', keys, hex(RMAC_I));
    const one = (b: Buffer) => decodeFrames(b).frames[0]!;
    const poll = cp.seal({ address: 1, sequence: 1, code: 0x60 });
    expect(pd.open(one(poll)).ok).toBe(true);
    const raw = pd.seal({ address: 1, sequence: 1, code: 0x50, data: hex('00 01 1a 00 ff ff ff c0') });
    expect(cp.open(one(raw))).toEqual({ ok: true, data: hex('00 01 1a 00 ff ff ff c0') });
    const led = cp.seal({ address: 1, sequence: 2, code: 0x69, data: Buffer.alloc(14, 0x11) });
    expect(pd.open(one(led))).toEqual({ ok: true, data: Buffer.alloc(14, 0x11) });
    const ack = pd.seal({ address: 1, sequence: 2, code: 0x40 });
    // Captured from the implementation that made one Cipher object per operation.
    expect([poll, raw, led, ack].map((b) => b.toString('hex'))).toEqual([
      '53010e000d0215600767c2c34907',
      '53811e000d02185042eee7af4096130df00835ce4d78ceb0e83dd6caa288',
      '53011e000e02176906ceb2f5f8ea624faec4f141341974ac63526fdee67f',
      '53810e000e0216406b5224187578',
    ]);
  });
});

describe('SecureChannel (CP and PD ends)', () => {
  const keys = deriveSessionKeys(SCBK_D, RND_A);
  const pair = () => ({ cp: new SecureChannel('cp', keys, hex(RMAC_I)), pd: new SecureChannel('pd', keys, hex(RMAC_I)) });
  const one = (b: Buffer) => decodeFrames(b).frames[0]!;

  it('carries commands and replies both ways with the MAC chain advancing', () => {
    const { cp, pd } = pair();
    for (let i = 0; i < 5; i++) {
      const cmd = one(cp.seal({ address: 1, sequence: (i % 3) + 1, code: 0x69, data: Buffer.from([i, 2, 3]) }));
      expect(cmd.scb!.type).toBe(0x17);
      const got = pd.open(cmd);
      expect(got).toEqual({ ok: true, data: Buffer.from([i, 2, 3]) });
      const rep = one(pd.seal({ address: 1, sequence: (i % 3) + 1, code: 0x40 }));
      expect(rep.scb!.type).toBe(0x16);
      expect(cp.open(rep)).toEqual({ ok: true, data: Buffer.alloc(0) });
    }
  });

  it('rejects a replayed reply (MAC chain moved on) and a tampered one', () => {
    const { cp, pd } = pair();
    pd.open(one(cp.seal({ address: 1, sequence: 1, code: 0x60 })));
    const reply1 = one(pd.seal({ address: 1, sequence: 1, code: 0x50, data: Buffer.from([0, 0, 26, 0, 1, 2, 3, 4]) }));
    expect(cp.open(reply1).ok).toBe(true);
    pd.open(one(cp.seal({ address: 1, sequence: 2, code: 0x60 })));
    expect(cp.open(reply1)).toEqual({ ok: false, reason: 'bad_mac' });
    const reply2raw = pd.seal({ address: 1, sequence: 2, code: 0x40 });
    const tampered = Buffer.from(reply2raw);
    tampered[7]! ^= 0x01;
    tampered.writeUInt16LE(crc16(tampered, 0, tampered.length - 2), tampered.length - 2);
    expect(cp.open(one(tampered)).ok).toBe(false);
    expect(cp.open(one(reply2raw)).ok).toBe(true);
  });

  it('rejects frames with the wrong block type for its direction', () => {
    const { cp } = pair();
    const cmd = one(cp.seal({ address: 1, sequence: 1, code: 0x60 }));
    expect(cp.open(cmd)).toEqual({ ok: false, reason: 'wrong_block' });
  });
});
