import { describe, expect, it } from 'vitest';
import type { Transport } from '../serial/transport.js';
import { decodeFrames, encodeFrame, type OsdpFrame } from './frame.js';
import { CMD, encodeComset, encodeKeyset } from './commands.js';
import { REPLY, decodeReply } from './replies.js';
import { OsdpSimulator } from './sim.js';

/** The control panel's end, written for these tests: send a command, collect the simulator's reply. */
function harness(readers: ConstructorParameters<typeof OsdpSimulator>[0]['readers']) {
  let deliver: ((c: Buffer) => void) | undefined;
  const replies: OsdpFrame[] = [];
  const transport: Transport = {
    isOpen: true,
    write: async (b) => {
      replies.push(...decodeFrames(b).frames);
    },
    onData: (l) => {
      deliver = l;
    },
    onClose: () => {},
    flush: async () => {},
    close: async () => {},
  };
  const sim = new OsdpSimulator({ transport, baudRate: 115200, readers, pace: false });
  const send = async (frame: Buffer): Promise<OsdpFrame | undefined> => {
    const before = replies.length;
    deliver!(frame);
    await new Promise((r) => setTimeout(r, 5));
    return replies.length > before ? replies[replies.length - 1] : undefined;
  };
  const cmd = (address: number, sequence: number, code: number, data?: Buffer) => send(encodeFrame({ address, sequence, code, ...(data ? { data } : {}) }));
  return { sim, send, cmd, replies };
}

describe('OsdpSimulator (PD side)', () => {
  it('answers ID, CAP, LSTAT, ISTAT, OSTAT and COMSET, each with its own reply', async () => {
    const h = harness([{ address: 2, serial: 77 }]);
    expect(decodeReply(REPLY.PDID, (await h.cmd(2, 0, CMD.ID, Buffer.from([0])))!.data)).toMatchObject({ name: 'PDID', serial: 77 });
    expect((await h.cmd(2, 1, CMD.CAP, Buffer.from([0])))!.code).toBe(REPLY.PDCAP);
    expect((await h.cmd(2, 2, CMD.LSTAT))!.code).toBe(REPLY.LSTATR);
    expect((await h.cmd(2, 3, CMD.ISTAT))!.code).toBe(REPLY.ISTATR);
    expect((await h.cmd(2, 1, CMD.OSTAT))!.code).toBe(REPLY.OSTATR);
    expect(decodeReply(REPLY.COM, (await h.cmd(2, 2, CMD.COMSET, encodeComset(2, 9600)))!.data)).toEqual({ name: 'COM', address: 2, baudRate: 9600 });
  });

  it('repeats its last reply for a retransmitted command and NAKs a sequence jump', async () => {
    const h = harness([{ address: 0 }]);
    await h.cmd(0, 0, CMD.ID, Buffer.from([0]));
    h.sim.presentCard(0, '1010');
    const poll = encodeFrame({ address: 0, sequence: 1, code: CMD.POLL });
    const first = await h.send(poll);
    const again = await h.send(poll);
    expect(first!.code).toBe(REPLY.RAW);
    expect(again!.raw.equals(first!.raw)).toBe(true);
    const jump = await h.cmd(0, 3, CMD.POLL);
    expect([jump!.code, jump!.data[0]]).toEqual([REPLY.NAK, 4]);
  });

  it('answers BUSY when told to, NAK 3 to unknown commands and NAK 2 to malformed ones', async () => {
    const h = harness([{ address: 0 }]);
    h.sim.setBusy(0, 1);
    expect((await h.cmd(0, 0, CMD.POLL))!.code).toBe(REPLY.BUSY);
    expect((await h.cmd(0, 0, CMD.POLL))!.code).toBe(REPLY.ACK);
    expect((await h.cmd(0, 1, 0x99))!.data[0]).toBe(3);
    expect((await h.cmd(0, 2, CMD.LED, Buffer.from([1, 2, 3])))!.data[0]).toBe(2);
  });

  it('refuses KEYSET in plain text and plain commands when it requires the secure channel', async () => {
    const h = harness([{ address: 0 }, { address: 1, requireSecure: true }]);
    expect((await h.cmd(0, 0, CMD.KEYSET, encodeKeyset(Buffer.alloc(16))))!.data[0]).toBe(6);
    expect((await h.cmd(1, 0, CMD.ID, Buffer.from([0])))!.code).toBe(REPLY.PDID);
    expect((await h.cmd(1, 1, CMD.POLL))!.data[0]).toBe(6);
  });

  it('refuses a handshake it has no key for, and a bad server cryptogram', async () => {
    const h = harness([{ address: 0 }, { address: 1, scbk: Buffer.alloc(16, 3) }]);
    const chlngD = encodeFrame({ address: 0, sequence: 0, scb: { type: 0x11, data: Buffer.from([0]) }, code: CMD.CHLNG, data: Buffer.alloc(8) });
    expect((await h.send(chlngD))!.code).toBe(REPLY.NAK);
    const chlng = encodeFrame({ address: 1, sequence: 0, scb: { type: 0x11, data: Buffer.from([1]) }, code: CMD.CHLNG, data: Buffer.alloc(8, 1) });
    expect((await h.send(chlng))!.code).toBe(REPLY.CCRYPT);
    const scrypt = encodeFrame({ address: 1, sequence: 1, scb: { type: 0x13, data: Buffer.from([1]) }, code: CMD.SCRYPT, data: Buffer.alloc(16) });
    expect((await h.send(scrypt))!.code).toBe(REPLY.NAK);
    expect(h.sim.isSecure(1)).toBe(false);
  });

  it('stays silent when told to, ignores replies and other addresses, and serves a broadcast', async () => {
    const h = harness([{ address: 0 }, { address: 1 }]);
    h.sim.setSilent(1, true);
    expect(await h.cmd(1, 0, CMD.POLL)).toBeUndefined();
    expect(await h.cmd(9, 0, CMD.POLL)).toBeUndefined();
    expect(await h.send(encodeFrame({ address: 0, reply: true, sequence: 0, code: REPLY.ACK }))).toBeUndefined();
    expect((await h.cmd(0x7f, 0, CMD.POLL))!.address).toBe(0);
    expect(() => h.sim.presentCard(5, '1')).toThrow(/no simulated reader/);
  });

  it('spoils replies on request: CRC, sequence and address faults', async () => {
    const h = harness([{ address: 0 }]);
    h.sim.corruptNext(0, 'crc');
    expect(await h.cmd(0, 0, CMD.POLL)).toBeUndefined();
    h.sim.corruptNext(0, 'sequence');
    expect((await h.cmd(0, 1, CMD.POLL))!.sequence).toBe(2);
    h.sim.corruptNext(0, 'address');
    expect((await h.cmd(0, 2, CMD.POLL))!.address).toBe(1);
  });
});
