import { createCipheriv, createDecipheriv, randomBytes, timingSafeEqual, type Cipher, type Decipher } from 'node:crypto';
import { encodeFrame, macCoveredBytes, type OsdpFrame } from './frame.js';

/**
 * OSDP Secure Channel (SIA OSDP 2.2 Annex D): AES-128 session keys derived
 * from the Secure Channel Base Key, the CHLNG/CCRYPT/SCRYPT/RMAC_I handshake,
 * MAC chaining and encrypted data blocks. Both roles live here: the control
 * panel (session.ts) and the simulated reader (sim.ts) share one implementation,
 * and the Annex E vectors pin it (secure-channel.test.ts).
 */

/** SCBK-D, the well-known install-mode key (OSDP 2.2 Annex D.3). Only ever used to KEYSET a real key. */
export const SCBK_D = Buffer.from('303132333435363738393a3b3c3d3e3f', 'hex');

/** Security block types (Annex D.1). */
export const SCS = {
  CHLNG: 0x11,
  CCRYPT: 0x12,
  SCRYPT: 0x13,
  RMAC_I: 0x14,
  CMD_MAC: 0x15,
  REPLY_MAC: 0x16,
  CMD_ENC: 0x17,
  REPLY_ENC: 0x18,
} as const;

/** SCB data byte of the handshake blocks: which key the CP uses. */
export const KEY_SCBK_D = 0x00;
export const KEY_SCBK = 0x01;

export interface SessionKeys {
  sEnc: Buffer;
  sMac1: Buffer;
  sMac2: Buffer;
}

export function aesEcb(key: Buffer, block: Buffer): Buffer {
  const c = createCipheriv('aes-128-ecb', key, null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(block), c.final()]);
}

/**
 * AES-128 on 16-byte blocks with one ECB cipher object per key, kept for the
 * life of the session keys. Every secured message needs two to four AES blocks
 * (MAC, data), and making a Cipher object per message cost about four times
 * the AES itself (docs/osdp.md "Cost per exchange"). ECB without padding keeps
 * no state between blocks, so `update` is never followed by `final` and the
 * object can be reused for as long as the keys live.
 */
class BlockCipher {
  private readonly enc: Cipher;
  private dec: Decipher | undefined;

  constructor(private readonly key: Buffer) {
    this.enc = createCipheriv('aes-128-ecb', key, null);
    this.enc.setAutoPadding(false);
  }

  encrypt(block: Buffer): Buffer {
    return this.enc.update(block);
  }

  /** Decrypts whole blocks (any multiple of 16 bytes) in one call. */
  decrypt(blocks: Buffer): Buffer {
    if (!this.dec) {
      this.dec = createDecipheriv('aes-128-ecb', this.key, null);
      this.dec.setAutoPadding(false);
    }
    return this.dec.update(blocks);
  }
}

interface SessionCiphers {
  enc: BlockCipher;
  mac1: BlockCipher;
  mac2: BlockCipher;
}

/** Ciphers follow their session keys object: built on first use, dropped with the keys. */
const ciphersByKeys = new WeakMap<SessionKeys, SessionCiphers>();

function ciphersFor(keys: SessionKeys): SessionCiphers {
  let c = ciphersByKeys.get(keys);
  if (!c) {
    c = { enc: new BlockCipher(keys.sEnc), mac1: new BlockCipher(keys.sMac1), mac2: new BlockCipher(keys.sMac2) };
    ciphersByKeys.set(keys, c);
  }
  return c;
}

/**
 * Byte `p` of `data` padded the OSDP way: 0x80 right after the data, then zeros
 * up to the block boundary (Annex D.5, D.6). Padding is applied on the fly so no
 * padded copy of the message is made.
 */
const paddedByte = (data: Buffer, p: number): number => (p < data.length ? data[p]! : p === data.length ? 0x80 : 0);

/** S-ENC / S-MAC1 / S-MAC2 = AES(SCBK, 0x01 || {0x82,0x01,0x02} || RND.A[0..5] || 0-pad) (Annex D.4). */
export function deriveSessionKeys(scbk: Buffer, rndA: Buffer): SessionKeys {
  const block = (b1: number) => {
    const b = Buffer.alloc(16);
    b[0] = 0x01;
    b[1] = b1;
    rndA.copy(b, 2, 0, 6);
    return aesEcb(scbk, b);
  };
  return { sEnc: block(0x82), sMac1: block(0x01), sMac2: block(0x02) };
}

/** Client cryptogram (sent by the PD in CCRYPT): AES(S-ENC, RND.A || RND.B). */
export function clientCryptogram(keys: SessionKeys, rndA: Buffer, rndB: Buffer): Buffer {
  return aesEcb(keys.sEnc, Buffer.concat([rndA, rndB]));
}

/** Server cryptogram (sent by the CP in SCRYPT): AES(S-ENC, RND.B || RND.A). */
export function serverCryptogram(keys: SessionKeys, rndA: Buffer, rndB: Buffer): Buffer {
  return aesEcb(keys.sEnc, Buffer.concat([rndB, rndA]));
}

/** Initial R-MAC: AES(S-MAC2, AES(S-MAC1, server cryptogram)). */
export function initialRmac(keys: SessionKeys, serverCrypto: Buffer): Buffer {
  return aesEcb(keys.sMac2, aesEcb(keys.sMac1, serverCrypto));
}

/**
 * The 16-byte MAC over `covered` (SOM .. last data byte): pad with 0x80 then
 * zeros when not block-aligned, AES-CBC with S-MAC1 over all blocks but the
 * last, S-MAC2 over the last; IV = the other side's last MAC (Annex D.5).
 * CBC is done block by block here, on the reusable ECB ciphers.
 */
export function computeMac(keys: SessionKeys, iv: Buffer, covered: Buffer): Buffer {
  const { mac1, mac2 } = ciphersFor(keys);
  const aligned = covered.length > 0 && covered.length % 16 === 0;
  const blocks = aligned ? covered.length / 16 : Math.floor(covered.length / 16) + 1;
  const block = Buffer.allocUnsafe(16);
  let chain = iv;
  for (let b = 0; b < blocks; b++) {
    const off = b * 16;
    for (let i = 0; i < 16; i++) block[i] = paddedByte(covered, off + i) ^ chain[i]!;
    chain = (b === blocks - 1 ? mac2 : mac1).encrypt(block);
  }
  return chain;
}

/** Encrypts a data block: append 0x80, zero-pad to 16, AES-CBC with S-ENC and IV = ~(last MAC of the other side) (Annex D.6). */
export function encryptData(keys: SessionKeys, otherMac: Buffer, data: Buffer): Buffer {
  const { enc } = ciphersFor(keys);
  const blocks = Math.floor(data.length / 16) + 1;
  const out = Buffer.allocUnsafe(blocks * 16);
  const block = Buffer.allocUnsafe(16);
  for (let b = 0; b < blocks; b++) {
    const off = b * 16;
    // The first block chains on the inverted MAC, the others on the previous ciphertext block.
    for (let i = 0; i < 16; i++) block[i] = paddedByte(data, off + i) ^ (b === 0 ? ~otherMac[i]! & 0xff : out[off - 16 + i]!);
    enc.encrypt(block).copy(out, off);
  }
  return out;
}

/** Decrypts a data block; undefined when the length or the 0x80 end marker is wrong (wrong key or tampering). */
export function decryptData(keys: SessionKeys, otherMac: Buffer, data: Buffer): Buffer | undefined {
  if (data.length === 0 || data.length % 16 !== 0) return undefined;
  // CBC decryption needs no chaining before the block cipher: all blocks go through ECB at once.
  const plain = ciphersFor(keys).enc.decrypt(data);
  for (let i = 0; i < plain.length; i++) plain[i]! ^= i < 16 ? ~otherMac[i]! & 0xff : data[i - 16]!;
  let end = plain.length - 1;
  while (end > 0 && plain[end] === 0) end--;
  if (plain[end] !== 0x80 || plain.length - end > 16) return undefined;
  return plain.subarray(0, end);
}

export function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export function randomChallenge(): Buffer {
  return randomBytes(8);
}

export type OpenResult = { ok: true; data: Buffer } | { ok: false; reason: 'no_mac' | 'bad_mac' | 'bad_padding' | 'wrong_block' };

/**
 * An established secure channel: seals outgoing messages and opens incoming
 * ones, keeping the MAC chain (C-MAC / R-MAC) for both directions.
 * `role` decides which SCB types it sends and which IV each direction uses.
 */
export class SecureChannel {
  /** Last MAC of a command (C-MAC) and of a reply (R-MAC), full 16 bytes. */
  private cMac: Buffer;
  private rMac: Buffer;

  constructor(
    private readonly role: 'cp' | 'pd',
    private readonly keys: SessionKeys,
    rmacI: Buffer,
  ) {
    this.rMac = Buffer.from(rmacI);
    this.cMac = Buffer.alloc(16);
  }

  /** Builds a MAC'd (and, with data, encrypted) frame: SCS_15/17 from the CP, SCS_16/18 from the PD. */
  seal(msg: { address: number; sequence: number; code: number; data?: Buffer }): Buffer {
    const isCmd = this.role === 'cp';
    const data = msg.data ?? Buffer.alloc(0);
    const iv = isCmd ? this.rMac : this.cMac;
    const encrypted = data.length > 0;
    const type = isCmd ? (encrypted ? SCS.CMD_ENC : SCS.CMD_MAC) : encrypted ? SCS.REPLY_ENC : SCS.REPLY_MAC;
    let full: Buffer = Buffer.alloc(16);
    const frame = encodeFrame({
      address: msg.address,
      reply: !isCmd,
      sequence: msg.sequence,
      scb: { type, data: Buffer.alloc(0) },
      code: msg.code,
      data: encrypted ? encryptData(this.keys, iv, data) : data,
      mac: (covered) => (full = computeMac(this.keys, iv, covered)),
    });
    if (isCmd) this.cMac = full;
    else this.rMac = full;
    return frame;
  }

  /** Verifies and decrypts an incoming frame; the chain advances only on success. */
  open(frame: OsdpFrame): OpenResult {
    const fromCp = this.role === 'pd';
    const expected = fromCp ? [SCS.CMD_MAC, SCS.CMD_ENC] : [SCS.REPLY_MAC, SCS.REPLY_ENC];
    if (!frame.scb || !(expected as number[]).includes(frame.scb.type)) return { ok: false, reason: 'wrong_block' };
    if (!frame.mac) return { ok: false, reason: 'no_mac' };
    const iv = fromCp ? this.rMac : this.cMac;
    const mac = computeMac(this.keys, iv, macCoveredBytes(frame));
    if (!sameBytes(mac.subarray(0, 4), frame.mac)) return { ok: false, reason: 'bad_mac' };
    let data: Buffer;
    if (frame.scb.type === SCS.CMD_ENC || frame.scb.type === SCS.REPLY_ENC) {
      const plain = decryptData(this.keys, iv, frame.data);
      if (!plain) return { ok: false, reason: 'bad_padding' };
      data = plain;
    } else {
      data = frame.data;
    }
    if (fromCp) this.cMac = mac;
    else this.rMac = mac;
    return { ok: true, data };
  }
}
