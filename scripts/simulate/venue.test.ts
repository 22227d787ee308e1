import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../config/load.js';
import { parsePasswordHash, verifyPassword } from '../../drivers/mqtt/password.js';
import { scenarioSchema } from './scenario.js';
import { makeSimVenue } from './venue.js';
import { addSerialCredentials, serialPayload } from './lanes.js';
import { decodeSerialFrames } from '../../drivers/serial-reader/decode.js';
import { encodeSerialFrame } from '../../drivers/serial-reader/sim.js';

const STADIUM = fileURLToPath(new URL('../../config/examples/stadium.yaml', import.meta.url));

describe('the venue simulation twin', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const make = async (replicate: number, osdpSecureChannel = true) => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-venue-'));
    dirs.push(dir);
    let n = 0;
    const venue = await makeSimVenue({
      venueFile: STADIUM,
      scenario: scenarioSchema.parse({ replicate, osdpSecureChannel }),
      dir,
      centralUrl: 'http://127.0.0.1:9',
      signingKey: generateKeyPairSync('ed25519').privateKey,
      centralToken: 'tok',
      // No socat needed: the twin only records the paths the gateway will open.
      pty: async () => ({ gateway: join(dir, `pty${n}-gw`), device: join(dir, `pty${n}-dev`), index: n++ }),
    });
    const loaded = loadConfigFile(venue.configFile);
    if (!loaded.ok) throw new Error('generated config invalid');
    return { venue, config: loaded.value.config };
  };

  it('moves every reader onto a simulated transport and keeps zones, beacons and rules', async () => {
    const { venue, config } = await make(1);
    expect(config.gateway.id).toBe('stadium-north');
    expect(config.central?.url).toBe('http://127.0.0.1:9');
    expect(config.broker?.host).toBe('127.0.0.1');
    expect(config.devices.find((d) => d.id === 'wiegand-n5')).toMatchObject({ pins: { kind: 'socket' } });
    expect(config.devices.find((d) => d.id === 'ble-north')).toMatchObject({ radio: 'simulated' });
    expect(config.devices.find((d) => d.id === 'osdp-north-a')).toMatchObject({ path: join(venue.configFile, '..', 'pty0-gw') });
    expect(config.rules.length).toBe(3);
    expect(venue.beacons.map((b) => b.id)).toEqual(['merch-door', 'merch-back', 'cafe-north']);
    // The USB desk reader cannot be simulated from outside: dropped with its lane, and said so.
    expect(venue.skipped).toEqual([{ device: 'desk-hid', reason: 'the simulator has no hid device' }]);
    expect(config.lanes.map((l) => l.id)).not.toContain('box-office');
    expect(venue.entryLanes.map((l) => `${l.id}:${l.transport}`)).toEqual(['n1:osdp', 'n2:osdp', 'n3:osdp', 'n5:wiegand', 'n6:serial', 'e1:mqtt', 'w1:mqtt', 'hosp-in:osdp']);
  });

  it('gives MQTT devices fresh passwords whose hashes are in the config, and secure-channel readers fresh keys', async () => {
    const { venue, config } = await make(1);
    const kiosk = venue.mqtt.find((d) => d.id === 'kiosk-merch-1')!;
    const hash = config.devices.find((d) => d.id === 'kiosk-merch-1');
    expect(hash?.driver).toBe('mqtt');
    if (hash?.driver !== 'mqtt') return;
    expect(await verifyPassword(kiosk.password, parsePasswordHash(hash.passwordHash)!)).toBe(true);
    const bus = venue.osdp.find((b) => b.device === 'osdp-north-a')!;
    const reader1 = config.devices.find((d) => d.id === 'osdp-north-a');
    if (reader1?.driver !== 'osdp') throw new Error('not osdp');
    expect(readFileSync(reader1.readers[0]!.secureChannel!.keyFile, 'utf8').trim()).toBe(bus.readers[0]!.scbk!.toString('hex'));
  });

  it('clones entry devices and lanes per replica and scales zone capacity with them', async () => {
    const { venue, config } = await make(3, false);
    expect(venue.entryLanes).toHaveLength(24);
    expect(config.lanes.map((l) => l.id)).toContain('n1-r3');
    expect(config.lanes.find((l) => l.id === 'n5-r2')).toMatchObject({ reader: { device: 'wiegand-n5-r2' }, output: { device: 'turnstile-n5-io-r2' } });
    // Exits and signs exist once.
    expect(config.lanes.filter((l) => l.id.startsWith('n4-exit'))).toHaveLength(1);
    expect(config.devices.filter((d) => d.id.startsWith('sign-north-1'))).toHaveLength(1);
    expect(config.zones.find((z) => z.id === 'bowl')?.capacity).toBe(36_000);
    const osdp = config.devices.find((d) => d.id === 'osdp-north-a-r2');
    expect(osdp?.driver === 'osdp' && osdp.readers.every((r) => r.secureChannel === undefined)).toBe(true);
  });

  it('gives holders the credential each serial reader will decode from their card', () => {
    const framing = { delimiter: { kind: 'line' as const, ending: 'crlf' as const }, encoding: 'binary' as const, checksum: 'none' as const, byteOrder: 'big' as const, dropBytes: 0, output: 'text' as const, maxFrameBytes: 64 };
    const holders = [{ holder: 'h1', credentials: [{ kind: 'card' as const, value: '3:77' }] }, { holder: 'h2', credentials: [{ kind: 'barcode' as const, value: 'X' }] }];
    addSerialCredentials(holders, [{ framing, kind: 'barcode' }]);
    const decoded = decodeSerialFrames(encodeSerialFrame(serialPayload({ facility: 3, card: 77 }), framing), framing).frames[0]!.value;
    expect(holders[0]!.credentials).toEqual([{ kind: 'card', value: '3:77' }, { kind: 'barcode', value: decoded }]);
    expect(holders[1]!.credentials).toHaveLength(1);
  });
});
