import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CMD, commandName, decodeCommand, encodeBuzzer, encodeComset, encodeKeyset, encodeLed, encodeOutput, encodeText, ledColorName } from './commands.js';
import { REPLY, bitsToBytes, bytesToBits, decodeReply, encodeCom, encodeKeypad, encodeLstatr, encodeNak, encodePdcap, encodePdid, encodeRaw, isReplyError, replyName } from './replies.js';

describe('commands', () => {
  it('round-trips LED, BUZ, OUT, TEXT, COMSET and KEYSET through their decoders', () => {
    expect(decodeCommand(CMD.LED, encodeLed({ reader: 0, led: 1, color: 'red', onMs: 200, offMs: 200, offColor: 'black', durationMs: 2000 }))).toMatchObject({ name: 'LED', records: [{ led: 1, color: 'red', offColor: 'black', onMs: 200, offMs: 200, durationMs: 2000, tempControl: 2 }] });
    expect(decodeCommand(CMD.BUZ, encodeBuzzer({ reader: 0, tone: 2, onMs: 100, offMs: 0, count: 1 }))).toEqual({ name: 'BUZ', reader: 0, tone: 2, onMs: 100, offMs: 0, count: 1 });
    expect(decodeCommand(CMD.OUT, encodeOutput({ output: 1, control: 5, timerMs: 3000 }))).toEqual({ name: 'OUT', records: [{ output: 1, control: 5, timerMs: 3000 }] });
    expect(decodeCommand(CMD.TEXT, encodeText({ reader: 0, mode: 3, seconds: 2, row: 1, column: 1, text: 'Welcome é' }))).toMatchObject({ name: 'TEXT', text: 'Welcome ?' });
    expect(decodeCommand(CMD.COMSET, encodeComset(3, 38400))).toEqual({ name: 'COMSET', address: 3, baudRate: 38400 });
    expect(decodeCommand(CMD.KEYSET, encodeKeyset(Buffer.alloc(16)))).toEqual({ name: 'KEYSET', keyType: 1, keyLength: 16 });
    expect(decodeCommand(CMD.CHLNG, Buffer.alloc(8))).toMatchObject({ name: 'CHLNG' });
    expect(decodeCommand(CMD.SCRYPT, Buffer.alloc(16))).toMatchObject({ name: 'SCRYPT' });
    expect(decodeCommand(CMD.ID, Buffer.from([0]))).toEqual({ name: 'ID', replyType: 0 });
    expect(decodeCommand(CMD.POLL, Buffer.alloc(0))).toEqual({ name: 'POLL' });
  });

  it('names malformed command bodies instead of throwing', () => {
    for (const [code, data] of [[CMD.POLL, [1]], [CMD.ID, []], [CMD.LED, [1, 2]], [CMD.BUZ, [1]], [CMD.OUT, [1]], [CMD.TEXT, [0, 1, 0, 0, 0, 9]], [CMD.COMSET, [1]], [CMD.KEYSET, [1, 16]], [CMD.CHLNG, [1]], [CMD.SCRYPT, [1]]] as const) {
      expect(decodeCommand(code, Buffer.from(data)), commandName(code)).toHaveProperty('error');
    }
    expect(decodeCommand(0x99, Buffer.from([1]))).toEqual({ name: 'UNKNOWN_0x99', unknown: true, dataHex: '01' });
    expect(ledColorName(42)).toBe('color_42');
  });

  it('never throws on any command code and data', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 64 }), (code, data) => void decodeCommand(code, Buffer.from(data))));
  });
});

describe('replies', () => {
  it('round-trips the simulator encoders through the decoders', () => {
    expect(decodeReply(REPLY.PDID, encodePdid({ vendor: 0x0a0b0c, model: 1, version: 2, serial: 0xdeadbeef, firmware: [1, 2, 3] }))).toEqual({ name: 'PDID', vendor: '0c0b0a', model: 1, version: 2, serial: 0xdeadbeef, firmware: '1.2.3' });
    expect(decodeReply(REPLY.PDCAP, encodePdcap([[1, 2, 3]]))).toEqual({ name: 'PDCAP', capabilities: [{ function: 1, compliance: 2, items: 3 }] });
    expect(decodeReply(REPLY.LSTATR, encodeLstatr(true, false))).toEqual({ name: 'LSTATR', tamper: true, powerFailure: false });
    expect(decodeReply(REPLY.KEYPAD, encodeKeypad(0, '12*#'))).toEqual({ name: 'KEYPAD', reader: 0, digits: '12*#' });
    expect(decodeReply(REPLY.COM, encodeCom(4, 9600))).toEqual({ name: 'COM', address: 4, baudRate: 9600 });
    expect(decodeReply(REPLY.NAK, encodeNak(6))).toEqual({ name: 'NAK', code: 6, reason: 'secure_channel_required' });
    expect(decodeReply(REPLY.NAK, encodeNak(77))).toMatchObject({ reason: 'code_77' });
    expect(decodeReply(REPLY.FMT, Buffer.from([0, 0, 2, 0x31, 0x32]))).toEqual({ name: 'FMT', reader: 0, direction: 0, text: '12' });
    expect(decodeReply(REPLY.OSTATR, Buffer.from([1]))).toEqual({ name: 'OSTATR', states: [1] });
    expect(decodeReply(REPLY.RSTATR, Buffer.from([0]))).toEqual({ name: 'RSTATR', states: [0] });
    expect(decodeReply(0x99, Buffer.alloc(0))).toEqual({ name: 'UNKNOWN_0x99', unknown: true });
    expect(replyName(REPLY.BUSY)).toBe('BUSY');
  });

  it('round-trips RAW card data of any bit length', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('0', '1'), { minLength: 1, maxLength: 200 }), (arr) => {
        const bits = arr.join('');
        expect(bytesToBits(bitsToBytes(bits), bits.length)).toBe(bits);
        expect(decodeReply(REPLY.RAW, encodeRaw(1, bits))).toEqual({ name: 'RAW', reader: 1, format: 0, bitCount: bits.length, bits });
      }),
    );
  });

  it('rejects bodies that do not match their reply type', () => {
    for (const [code, data] of [[REPLY.ACK, [1]], [REPLY.NAK, []], [REPLY.PDID, [1]], [REPLY.PDCAP, [1]], [REPLY.LSTATR, [1]], [REPLY.RAW, [0, 0]], [REPLY.RAW, [0, 0, 0, 0]], [REPLY.FMT, [0]], [REPLY.KEYPAD, [0, 5, 1]], [REPLY.COM, [1]], [REPLY.CCRYPT, [1]], [REPLY.RMAC_I, [1]]] as const) {
      expect(isReplyError(decodeReply(code, Buffer.from(data))), replyName(code)).toBe(true);
    }
  });

  it('never throws on any reply code and data', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 64 }), (code, data) => void decodeReply(code, Buffer.from(data))));
  });
});
