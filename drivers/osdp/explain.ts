import { decodeCardBits } from '../wiegand/formats.js';
import { checksum8, crc16, decodeFrames, SOM, type OsdpFrame } from './frame.js';
import { commandName, decodeCommand } from './commands.js';
import { decodeReply, replyName } from './replies.js';

/**
 * The technician's view of captured OSDP bytes (`gatehouse decode osdp HEX`):
 * every frame found, decoded as far as it can be, and a plain-language
 * explanation of what is wrong with each broken frame or run of garbage.
 * Pure: bytes in, a JSON-able object out.
 */

const SCB_NAMES: Record<number, string> = {
  0x11: 'SCS_11 CHLNG (handshake, no MAC)',
  0x12: 'SCS_12 CCRYPT (handshake, no MAC)',
  0x13: 'SCS_13 SCRYPT (handshake, no MAC)',
  0x14: 'SCS_14 RMAC_I (handshake, no MAC)',
  0x15: 'SCS_15 command with MAC, data in clear',
  0x16: 'SCS_16 reply with MAC, data in clear',
  0x17: 'SCS_17 command with MAC, data encrypted',
  0x18: 'SCS_18 reply with MAC, data encrypted',
};

export interface ExplainedItem {
  offset: number;
  length: number;
  hex: string;
  kind: 'frame' | 'error' | 'incomplete';
  [key: string]: unknown;
}

export interface ExplainResult {
  ok: boolean;
  bytes: number;
  frames: number;
  errors: number;
  items: ExplainedItem[];
}

/** Parses hex the way technicians paste it: spaces, colons, commas, `0x` prefixes and newlines are ignored. */
export function parseHex(text: string): Buffer | { error: string } {
  const clean = text.replace(/0x/gi, '').replace(/[\s:,;-]/g, '');
  if (clean.length === 0) return { error: 'no hex digits given' };
  if (!/^[0-9a-fA-F]*$/.test(clean)) return { error: `not hex: "${clean.match(/[^0-9a-fA-F]/)![0]}" found` };
  if (clean.length % 2 !== 0) return { error: `odd number of hex digits (${clean.length}); a byte is missing a digit` };
  return Buffer.from(clean, 'hex');
}

export function explainOsdpHex(hex: string): unknown {
  const parsed = parseHex(hex);
  if (!Buffer.isBuffer(parsed)) return { ok: false, error: parsed.error };
  return explainOsdpBytes(parsed);
}

export function explainOsdpBytes(buf: Buffer): ExplainResult {
  const { frames, rest, errors } = decodeFrames(buf);
  const items: ExplainedItem[] = [];
  // decodeFrames reports offsets in `buf`; frames carry their raw bytes: find their offsets in order.
  let cursor = 0;
  for (const f of frames) {
    const at = buf.indexOf(f.raw, cursor);
    cursor = at + f.raw.length;
    items.push({ offset: at, length: f.raw.length, hex: f.raw.toString('hex'), kind: 'frame', ...describeFrame(f) });
  }
  for (const e of errors) {
    items.push({ offset: e.offset, length: e.bytes.length, hex: e.bytes.toString('hex'), kind: 'error', code: e.code, reason: e.reason, explanation: explainError(e.reason, e.bytes, e.detail) });
  }
  if (rest.length > 0) {
    const restOffset = buf.length - rest.length;
    const declared = rest.length >= 4 ? rest.readUInt16LE(rest.indexOf(SOM) + 2) : undefined;
    items.push({
      offset: restOffset,
      length: rest.length,
      hex: rest.toString('hex'),
      kind: 'incomplete',
      code: 'GH_OSDP_BAD_FRAME',
      reason: 'truncated',
      explanation:
        declared !== undefined
          ? `a frame starts here and declares ${declared} bytes, but only ${rest.length} were captured: the capture was cut short or the reader stopped sending mid-frame`
          : `a frame starts here but its header is incomplete (${rest.length} byte(s))`,
    });
  }
  items.sort((a, b) => a.offset - b.offset);
  return { ok: errors.length === 0 && rest.length === 0, bytes: buf.length, frames: frames.length, errors: errors.length + (rest.length > 0 ? 1 : 0), items };
}

function describeFrame(f: OsdpFrame): Record<string, unknown> {
  const out: Record<string, unknown> = {
    address: f.address,
    addressHex: `0x${f.address.toString(16).padStart(2, '0')}`,
    broadcast: f.address === 0x7f,
    direction: f.reply ? 'reply (PD -> CP)' : 'command (CP -> PD)',
    sequence: f.sequence,
    check: f.useCrc ? 'crc16' : 'checksum',
    checkOk: true,
    code: `0x${f.code.toString(16).padStart(2, '0')}`,
    name: f.reply ? replyName(f.code) : commandName(f.code),
  };
  if (f.scb) {
    out.securityBlock = { type: `0x${f.scb.type.toString(16)}`, meaning: SCB_NAMES[f.scb.type] ?? 'unknown security block type', data: f.scb.data.toString('hex') };
    if (f.mac) out.mac = f.mac.toString('hex');
  }
  if (f.scb && (f.scb.type === 0x17 || f.scb.type === 0x18)) {
    out.fields = { encrypted: true, dataHex: f.data.toString('hex'), note: 'data is encrypted with the session key; it cannot be decoded from a capture' };
    return out;
  }
  if (f.reply) {
    const r = decodeReply(f.code, f.data);
    const fields: Record<string, unknown> = { ...r };
    for (const [k, v] of Object.entries(fields)) if (Buffer.isBuffer(v)) fields[k] = v.toString('hex');
    if (r.name === 'RAW' && 'bits' in r) {
      const card = decodeCardBits(r.bits, { allowRaw: true });
      fields.card = card.ok ? { format: card.format, bits: card.bits, facility: card.facility, card: card.card, credential: card.credential.value } : { error: card.reason, detail: card.detail };
    }
    out.fields = fields;
  } else {
    out.fields = decodeCommand(f.code, f.data);
  }
  return out;
}

function explainError(reason: string, bytes: Buffer, detail: string): string {
  switch (reason) {
    case 'garbage':
      return `${detail}: no start-of-message byte (0x53) - line noise, a wrong baud rate, or a device speaking another protocol`;
    case 'crc':
    case 'checksum': {
      const useCrc = reason === 'crc';
      const end = bytes.length - (useCrc ? 2 : 1);
      const want = useCrc ? crc16(bytes, 0, end) : checksum8(bytes, 0, end);
      const got = useCrc ? bytes.readUInt16LE(end) : bytes[end]!;
      const hex = (n: number) => `0x${n.toString(16).padStart(useCrc ? 4 : 2, '0')}`;
      return `${detail}: the frame says ${hex(got)}, its bytes give ${hex(want)} - bytes were damaged on the wire (termination, grounding, cable length) or the length byte is wrong`;
    }
    case 'length_too_small':
      return `${detail}: not a real frame header (a 0x53 byte inside noise, or a corrupt length)`;
    case 'length_too_large':
      return `${detail}: corrupt length field, or a device flooding the line`;
    case 'bad_security_block':
      return `${detail}: the CRC is right but the security block does not fit - a sender bug`;
    default:
      return detail;
  }
}
