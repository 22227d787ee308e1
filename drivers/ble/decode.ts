/**
 * Pure decoders for BLE advertising data: AD structures (Bluetooth Core Spec
 * Vol 3 Part C §11), Apple iBeacon and Google Eddystone UID / URL / TLM.
 * No I/O, no timers; every malformed input is a `{ ok: false, reason }`, never a throw.
 */

/** Largest advertising payload we accept: extended advertising tops out at 1650 bytes (Core 5.x Vol 6 Part B §2.3.4.9). */
export const MAX_ADV_BYTES = 1650;

export const AD_TYPE = {
  FLAGS: 0x01,
  INCOMPLETE_16: 0x02,
  COMPLETE_16: 0x03,
  SHORT_NAME: 0x08,
  COMPLETE_NAME: 0x09,
  TX_POWER: 0x0a,
  SERVICE_DATA_16: 0x16,
  MANUFACTURER: 0xff,
} as const;

const AD_TYPE_NAMES: Record<number, string> = {
  0x01: 'flags',
  0x02: 'incomplete_16bit_uuids',
  0x03: 'complete_16bit_uuids',
  0x04: 'incomplete_32bit_uuids',
  0x05: 'complete_32bit_uuids',
  0x06: 'incomplete_128bit_uuids',
  0x07: 'complete_128bit_uuids',
  0x08: 'short_local_name',
  0x09: 'complete_local_name',
  0x0a: 'tx_power_level',
  0x16: 'service_data_16bit',
  0xff: 'manufacturer_specific_data',
};

export const APPLE_COMPANY_ID = 0x004c;
export const EDDYSTONE_SERVICE_UUID = 0xfeaa;

export interface AdStructure {
  type: number;
  typeName: string;
  data: Buffer;
}

export interface IBeacon {
  kind: 'ibeacon';
  /** Proximity UUID, lower-case canonical 8-4-4-4-12 form. */
  uuid: string;
  major: number;
  minor: number;
  /** Calibrated RSSI at 1 m (signed dBm). */
  measuredPower: number;
}

export interface EddystoneUid {
  kind: 'eddystone-uid';
  /** Calibrated TX power at 0 m (signed dBm). */
  txPower: number;
  /** 10-byte namespace, 20 lower-case hex digits. */
  namespace: string;
  /** 6-byte instance, 12 lower-case hex digits. */
  instance: string;
}

export interface EddystoneUrl {
  kind: 'eddystone-url';
  txPower: number;
  url: string;
}

export interface EddystoneTlm {
  kind: 'eddystone-tlm';
  version: number;
  /** Battery voltage in mV; undefined when the beacon reports 0 (not supported). */
  batteryMv?: number;
  /** Degrees Celsius from 8.8 signed fixed point; undefined for 0x8000 (not supported). */
  temperatureC?: number;
  advCount: number;
  /** Time since power-on in seconds (the frame counts 0.1 s units). */
  uptimeS: number;
}

export type BeaconFrame = IBeacon | EddystoneUid | EddystoneUrl | EddystoneTlm;

export interface Advertisement {
  structures: AdStructure[];
  flags?: number;
  localName?: string;
  txPowerLevel?: number;
  /** The beacon frame carried, when the advertisement is an iBeacon or a known Eddystone frame. */
  beacon?: BeaconFrame;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; reason: string };

const fail = (reason: string): { ok: false; reason: string } => ({ ok: false, reason });

/** Splits advertising data into AD structures: `[length][type][length-1 bytes of data]`, repeated. */
export function parseAdStructures(buf: Buffer): ParseResult<AdStructure[]> {
  if (buf.length === 0) return fail('empty advertisement');
  if (buf.length > MAX_ADV_BYTES) return fail(`advertisement of ${buf.length} bytes exceeds ${MAX_ADV_BYTES}`);
  const out: AdStructure[] = [];
  let i = 0;
  while (i < buf.length) {
    const len = buf[i]!;
    // Core Vol 3 Part C §11: a zero length ends the significant part; the rest is padding.
    if (len === 0) {
      for (let j = i + 1; j < buf.length; j++) {
        if (buf[j] !== 0) return fail(`non-zero byte after the zero-length terminator at offset ${i}`);
      }
      break;
    }
    if (i + 1 + len > buf.length) return fail(`AD structure at offset ${i} declares ${len} bytes but only ${buf.length - i - 1} remain (truncated)`);
    const type = buf[i + 1]!;
    out.push({ type, typeName: AD_TYPE_NAMES[type] ?? `0x${type.toString(16).padStart(2, '0')}`, data: buf.subarray(i + 2, i + 1 + len) });
    i += 1 + len;
  }
  if (out.length === 0) return fail('advertisement holds no AD structure');
  return { ok: true, value: out };
}

/** Parses raw advertising data (the AD structures of one advertising or scan-response PDU). */
export function parseAdvertisement(buf: Buffer): ParseResult<Advertisement> {
  const structures = parseAdStructures(buf);
  if (!structures.ok) return structures;
  const adv: Advertisement = { structures: structures.value };
  for (const s of structures.value) {
    switch (s.type) {
      case AD_TYPE.FLAGS:
        if (s.data.length < 1) return fail('flags structure is empty');
        adv.flags = s.data[0]!;
        break;
      case AD_TYPE.SHORT_NAME:
      case AD_TYPE.COMPLETE_NAME:
        adv.localName = s.data.toString('utf8');
        break;
      case AD_TYPE.TX_POWER:
        if (s.data.length !== 1) return fail(`tx power structure has ${s.data.length} bytes, expected 1`);
        adv.txPowerLevel = s.data.readInt8(0);
        break;
      case AD_TYPE.MANUFACTURER: {
        const r = parseManufacturerData(s.data);
        if (!r.ok) return r;
        if (r.value) adv.beacon = r.value;
        break;
      }
      case AD_TYPE.SERVICE_DATA_16: {
        const r = parseServiceData16(s.data);
        if (!r.ok) return r;
        if (r.value) adv.beacon = r.value;
        break;
      }
      default:
        break;
    }
  }
  return { ok: true, value: adv };
}

/** Manufacturer-specific data: a little-endian company id, then company-defined bytes. Returns no beacon for other vendors. */
export function parseManufacturerData(data: Buffer): ParseResult<IBeacon | undefined> {
  if (data.length < 2) return fail(`manufacturer data of ${data.length} bytes has no company id`);
  const company = data.readUInt16LE(0);
  // Apple uses other sub-types (0x10 Nearby, 0x12 Find My...) that are not beacons.
  if (company !== APPLE_COMPANY_ID || data.length < 3 || data[2] !== 0x02) return { ok: true, value: undefined };
  // iBeacon: 4C 00 | 02 15 | uuid(16) | major(2, BE) | minor(2, BE) | measured power (int8).
  if (data.length < 4) return fail('iBeacon truncated before its length byte');
  if (data[3] !== 0x15) return fail(`iBeacon length byte is 0x${data[3]!.toString(16)}, expected 0x15`);
  if (data.length !== 25) return fail(`iBeacon payload has ${data.length - 4} bytes, expected 21 (truncated or padded)`);
  return {
    ok: true,
    value: {
      kind: 'ibeacon',
      uuid: formatUuid(data.subarray(4, 20)),
      major: data.readUInt16BE(20),
      minor: data.readUInt16BE(22),
      measuredPower: data.readInt8(24),
    },
  };
}

/** Service data with a 16-bit UUID; only Eddystone (0xFEAA) is decoded. */
export function parseServiceData16(data: Buffer): ParseResult<EddystoneUid | EddystoneUrl | EddystoneTlm | undefined> {
  if (data.length < 2) return fail(`service data of ${data.length} bytes has no UUID`);
  if (data.readUInt16LE(0) !== EDDYSTONE_SERVICE_UUID) return { ok: true, value: undefined };
  return parseEddystone(data.subarray(2));
}

/** One Eddystone frame (the bytes after the 0xFEAA service UUID). */
export function parseEddystone(frame: Buffer): ParseResult<EddystoneUid | EddystoneUrl | EddystoneTlm | undefined> {
  if (frame.length < 1) return fail('Eddystone frame is empty');
  const type = frame[0]!;
  switch (type) {
    case 0x00: {
      // UID: type | tx power | namespace(10) | instance(6) | RFU(2). Some beacons omit the two reserved bytes.
      if (frame.length !== 18 && frame.length !== 20) return fail(`Eddystone-UID frame has ${frame.length} bytes, expected 18 or 20`);
      return {
        ok: true,
        value: { kind: 'eddystone-uid', txPower: frame.readInt8(1), namespace: frame.subarray(2, 12).toString('hex'), instance: frame.subarray(12, 18).toString('hex') },
      };
    }
    case 0x10: {
      // URL: type | tx power | scheme | encoded URL (1..17 bytes).
      if (frame.length < 4) return fail(`Eddystone-URL frame has ${frame.length} bytes, expected at least 4`);
      if (frame.length > 20) return fail(`Eddystone-URL frame has ${frame.length} bytes, at most 20 allowed`);
      const url = decodeEddystoneUrl(frame.subarray(2));
      if (!url.ok) return url;
      return { ok: true, value: { kind: 'eddystone-url', txPower: frame.readInt8(1), url: url.value } };
    }
    case 0x20: {
      const version = frame.length >= 2 ? frame[1]! : -1;
      if (version !== 0x00) {
        if (version === 0x01) return fail('encrypted Eddystone-TLM (version 1) is not supported');
        if (frame.length < 2) return fail('Eddystone-TLM frame truncated before its version');
        return fail(`Eddystone-TLM version ${version} is unknown`);
      }
      // TLM v0: type | version | VBATT(2) | TEMP(2, 8.8) | ADV_CNT(4) | SEC_CNT(4).
      if (frame.length !== 14) return fail(`Eddystone-TLM frame has ${frame.length} bytes, expected 14`);
      const batteryMv = frame.readUInt16BE(2);
      const rawTemp = frame.readUInt16BE(4);
      const tlm: EddystoneTlm = { kind: 'eddystone-tlm', version, advCount: frame.readUInt32BE(6), uptimeS: frame.readUInt32BE(10) / 10 };
      if (batteryMv !== 0) tlm.batteryMv = batteryMv;
      if (rawTemp !== 0x8000) tlm.temperatureC = frame.readInt16BE(4) / 256;
      return { ok: true, value: tlm };
    }
    default:
      // EID (0x30) and future frames carry no identity we can use.
      return { ok: true, value: undefined };
  }
}

export const URL_SCHEMES = ['http://www.', 'https://www.', 'http://', 'https://'] as const;
export const URL_EXPANSIONS = ['.com/', '.org/', '.edu/', '.net/', '.info/', '.biz/', '.gov/', '.com', '.org', '.edu', '.net', '.info', '.biz', '.gov'] as const;

/** Scheme byte + encoded bytes -> URL. Bytes 0x00-0x0D expand; 0x0E-0x20 and 0x7F-0xFF are reserved. */
export function decodeEddystoneUrl(encoded: Buffer): ParseResult<string> {
  const scheme = URL_SCHEMES[encoded[0] ?? 0xff];
  if (scheme === undefined) return fail(`Eddystone-URL scheme byte 0x${(encoded[0] ?? 0).toString(16)} is unknown`);
  let url: string = scheme;
  for (let i = 1; i < encoded.length; i++) {
    const b = encoded[i]!;
    const expansion = URL_EXPANSIONS[b];
    if (expansion !== undefined) url += expansion;
    else if (b > 0x20 && b < 0x7f) url += String.fromCharCode(b);
    else return fail(`Eddystone-URL byte 0x${b.toString(16)} at position ${i} is reserved`);
  }
  return { ok: true, value: url };
}

/** The reverse of `decodeEddystoneUrl` (longest expansion first); throws for a URL it cannot encode. */
export function encodeUrlBytes(url: string): Buffer {
  const schemeIndex = URL_SCHEMES.findIndex((s) => url.startsWith(s));
  if (schemeIndex < 0) throw new Error(`URL ${url} has no encodable scheme`);
  const bytes: number[] = [schemeIndex];
  let rest = url.slice(URL_SCHEMES[schemeIndex]!.length);
  const byLength = URL_EXPANSIONS.map((text, code) => ({ text, code })).sort((a, b) => b.text.length - a.text.length);
  while (rest.length > 0) {
    const hit = byLength.find((e) => rest.startsWith(e.text));
    if (hit) {
      bytes.push(hit.code);
      rest = rest.slice(hit.text.length);
    } else {
      const c = rest.charCodeAt(0);
      if (c <= 0x20 || c >= 0x7f) throw new Error(`character ${JSON.stringify(rest[0])} cannot be encoded`);
      bytes.push(c);
      rest = rest.slice(1);
    }
  }
  return Buffer.from(bytes);
}

export function formatUuid(bytes: Buffer): string {
  const h = bytes.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** Canonical lower-case UUID or undefined when the text is not one. */
export function normaliseUuid(text: string): string | undefined {
  const hex = text.replace(/-/g, '').toLowerCase();
  return /^[0-9a-f]{32}$/.test(hex) ? formatUuid(Buffer.from(hex, 'hex')) : undefined;
}

/**
 * The identity a beacon frame gives a sighting (`BusTopics.sighting.beacon`):
 * `ibeacon:<uuid>:<major>:<minor>` or `eddystone:<namespace>:<instance>`.
 * URL and TLM frames identify nobody.
 */
export function beaconKey(frame: BeaconFrame): string | undefined {
  if (frame.kind === 'ibeacon') return `ibeacon:${frame.uuid}:${frame.major}:${frame.minor}`;
  if (frame.kind === 'eddystone-uid') return `eddystone:${frame.namespace}:${frame.instance}`;
  return undefined;
}

/**
 * Calibrated RSSI at 1 m for distance estimates. iBeacon carries it directly;
 * Eddystone calibrates at 0 m and its spec says to subtract 41 dBm for 1 m.
 */
export function txPowerAt1m(frame: BeaconFrame): number | undefined {
  if (frame.kind === 'ibeacon') return frame.measuredPower;
  if (frame.kind === 'eddystone-uid' || frame.kind === 'eddystone-url') return frame.txPower - 41;
  return undefined;
}

/** Builds advertising data (one AD structure per entry); used by the simulator, tests and the bench. */
export function encodeAdStructures(structures: Array<{ type: number; data: Buffer }>): Buffer {
  return Buffer.concat(
    structures.map((s) => {
      if (s.data.length > 254) throw new Error('AD structure data longer than 254 bytes');
      return Buffer.concat([Buffer.from([s.data.length + 1, s.type]), s.data]);
    }),
  );
}

export function encodeIBeacon(b: Omit<IBeacon, 'kind'>, options: { flags?: boolean } = {}): Buffer {
  const payload = Buffer.alloc(25);
  payload.writeUInt16LE(APPLE_COMPANY_ID, 0);
  payload[2] = 0x02;
  payload[3] = 0x15;
  Buffer.from(b.uuid.replace(/-/g, ''), 'hex').copy(payload, 4);
  payload.writeUInt16BE(b.major, 20);
  payload.writeUInt16BE(b.minor, 22);
  payload.writeInt8(b.measuredPower, 24);
  const structures = options.flags === false ? [] : [{ type: AD_TYPE.FLAGS, data: Buffer.from([0x06]) }];
  return encodeAdStructures([...structures, { type: AD_TYPE.MANUFACTURER, data: payload }]);
}

function eddystoneAdv(frame: Buffer): Buffer {
  const uuid = Buffer.alloc(2);
  uuid.writeUInt16LE(EDDYSTONE_SERVICE_UUID, 0);
  return encodeAdStructures([
    { type: AD_TYPE.FLAGS, data: Buffer.from([0x06]) },
    { type: AD_TYPE.COMPLETE_16, data: uuid },
    { type: AD_TYPE.SERVICE_DATA_16, data: Buffer.concat([uuid, frame]) },
  ]);
}

export function encodeEddystoneUid(b: Omit<EddystoneUid, 'kind'>): Buffer {
  const frame = Buffer.alloc(20);
  frame[0] = 0x00;
  frame.writeInt8(b.txPower, 1);
  Buffer.from(b.namespace, 'hex').copy(frame, 2);
  Buffer.from(b.instance, 'hex').copy(frame, 12);
  return eddystoneAdv(frame);
}

export function encodeEddystoneUrl(b: Omit<EddystoneUrl, 'kind'>): Buffer {
  const head = Buffer.alloc(2);
  head[0] = 0x10;
  head.writeInt8(b.txPower, 1);
  return eddystoneAdv(Buffer.concat([head, encodeEddystoneUrlBytes(b.url)]));
}

function encodeEddystoneUrlBytes(url: string): Buffer {
  const encoded = encodeUrlBytes(url);
  if (encoded.length > 18) throw new Error(`URL ${url} encodes to ${encoded.length} bytes, at most 18 fit`);
  return encoded;
}

export function encodeEddystoneTlm(t: { batteryMv?: number; temperatureC?: number; advCount: number; uptimeS: number }): Buffer {
  const frame = Buffer.alloc(14);
  frame[0] = 0x20;
  frame[1] = 0x00;
  frame.writeUInt16BE(t.batteryMv ?? 0, 2);
  if (t.temperatureC === undefined) frame.writeUInt16BE(0x8000, 4);
  else frame.writeInt16BE(Math.round(t.temperatureC * 256), 4);
  frame.writeUInt32BE(t.advCount, 6);
  frame.writeUInt32BE(Math.round(t.uptimeS * 10), 10);
  return eddystoneAdv(frame);
}

/**
 * `gatehouse decode adv HEX`: the raw AD structures and the decoded beacon
 * frame as JSON-able data. Bad hex or a malformed advertisement gives `{ ok: false, reason }`.
 */
export function explainAdvertisement(hex: string): unknown {
  const clean = hex.replace(/[\s:-]/g, '').replace(/^0x/i, '');
  if (clean.length === 0 || clean.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(clean)) {
    return { ok: false, code: 'GH_BLE_BAD_ADV', reason: 'input is not an even number of hex digits' };
  }
  const buf = Buffer.from(clean, 'hex');
  const r = parseAdvertisement(buf);
  if (!r.ok) return { ok: false, code: 'GH_BLE_BAD_ADV', reason: r.reason, bytes: buf.length };
  const adv = r.value;
  const out: Record<string, unknown> = {
    ok: true,
    bytes: buf.length,
    structures: adv.structures.map((s) => ({ type: `0x${s.type.toString(16).padStart(2, '0')}`, name: s.typeName, length: s.data.length, data: s.data.toString('hex') })),
  };
  if (adv.flags !== undefined) out.flags = adv.flags;
  if (adv.localName !== undefined) out.localName = adv.localName;
  if (adv.txPowerLevel !== undefined) out.txPowerLevel = adv.txPowerLevel;
  if (adv.beacon) {
    out.beacon = adv.beacon;
    const key = beaconKey(adv.beacon);
    if (key) out.key = key;
  }
  return out;
}
