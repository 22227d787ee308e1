import { z } from 'zod';
import { idSchema, secretRefSchema } from './common.js';
import { laneSchema, zoneSchema } from './sections/access.js';
import { storageSchema } from './sections/storage.js';
import { centralSchema } from './sections/central.js';
import { brokerSchema } from './sections/broker.js';
import { adminSchema } from './sections/admin.js';
import { venueSchema } from './sections/venue.js';
import { beaconsSchema, checkEngagementReferences, engagementSchema, rulesSchema } from './sections/engagement.js';
import { simDeviceSchema } from '../drivers/sim/config.js';
import { osdpDeviceSchema } from '../drivers/osdp/config.js';
import { wiegandDeviceSchema } from '../drivers/wiegand/config.js';
import { gpioDeviceSchema } from '../drivers/gpio/config.js';
import { hidDeviceSchema } from '../drivers/hid/config.js';
import { serialReaderDeviceSchema } from '../drivers/serial-reader/config.js';
import { mqttDeviceSchema } from '../drivers/mqtt/config.js';
import { bleDeviceSchema } from '../drivers/ble/config.js';

/**
 * The config file, the single source for validation, TypeScript types
 * (`GatewayConfig`) and the JSON Schema that `gatehouse config schema` prints.
 * Every object is strict: an unknown key is an error, so typos never pass silently.
 */
export const deviceSchema = z.discriminatedUnion('driver', [
  simDeviceSchema,
  osdpDeviceSchema,
  wiegandDeviceSchema,
  gpioDeviceSchema,
  hidDeviceSchema,
  serialReaderDeviceSchema,
  mqttDeviceSchema,
  bleDeviceSchema,
]);
export type DeviceConfig = z.infer<typeof deviceSchema>;

export const configSchema = z
  .strictObject({
    /** Lets editors find the JSON Schema; ignored by the gateway. */
    $schema: z.string().optional(),
    gateway: z.strictObject({
      id: idSchema.describe('Gateway id: used in event sources, MQTT topics and metrics.'),
      name: z.string().optional(),
      venue: idSchema.optional(),
      timezone: z.string().default('UTC'),
      /**
       * Treat the wall clock as synchronised even without the systemd-timesyncd flag
       * (containers, dev machines). On a Pi leave it false: events made before NTP
       * syncs are flagged and an alarm is raised.
       */
      assumeClockSynced: z.boolean().default(false),
      /**
       * Run the event loop, which decides at the gate, under SCHED_RR at this priority
       * (1-99; Linux). Background threads and processes stay at normal or lower priority.
       * Needs CAP_SYS_NICE or LimitRTPRIO (the systemd unit allows 10). Without permission
       * the gateway logs GH_RT_PRIORITY and runs at normal priority. Absent: normal priority.
       */
      realtimePriority: z.number().int().min(1).max(99).optional(),
    }),
    storage: storageSchema,
    secrets: z.strictObject({
      /** Key for HMAC-hashing credential numbers (at least 32 bytes). */
      credentialKey: secretRefSchema,
    }),
    central: centralSchema.optional(),
    broker: brokerSchema.optional(),
    /** Shared anti-passback and occupancy with the venue's other gateways (issue #11, docs/venue.md). */
    venue: venueSchema.optional(),
    admin: adminSchema.default({ host: '127.0.0.1', port: 9464 }),
    devices: z.array(deviceSchema).default([]),
    zones: z.array(zoneSchema).min(1),
    lanes: z.array(laneSchema).default([]),
    beacons: beaconsSchema,
    rules: rulesSchema,
    engagement: engagementSchema.prefault({}),
  })
  .superRefine((cfg, ctx) => {
    const unique = (items: Array<{ id: string }>, key: string) => {
      const seen = new Set<string>();
      items.forEach((item, i) => {
        if (seen.has(item.id)) ctx.addIssue({ code: 'custom', path: [key, i, 'id'], message: `duplicate id "${item.id}"` });
        seen.add(item.id);
      });
    };
    // The admin port shows holder refs and device state: beyond localhost it needs a token.
    if (!isLoopback(cfg.admin.host) && !cfg.admin.token) {
      ctx.addIssue({ code: 'custom', path: ['admin', 'host'], message: `admin port bound to ${cfg.admin.host} needs admin.token (or bind it to 127.0.0.1)` });
    }
    unique(cfg.devices, 'devices');
    unique(cfg.zones, 'zones');
    unique(cfg.lanes, 'lanes');
    const devices = new Set(cfg.devices.map((d) => d.id));
    const zones = new Set(cfg.zones.map((z) => z.id));
    cfg.lanes.forEach((lane, i) => {
      if (!devices.has(lane.reader.device)) ctx.addIssue({ code: 'custom', path: ['lanes', i, 'reader', 'device'], message: `no device "${lane.reader.device}" in devices` });
      if (lane.output && !devices.has(lane.output.device)) ctx.addIssue({ code: 'custom', path: ['lanes', i, 'output', 'device'], message: `no device "${lane.output.device}" in devices` });
      if (!zones.has(lane.zone)) ctx.addIssue({ code: 'custom', path: ['lanes', i, 'zone'], message: `no zone "${lane.zone}" in zones` });
    });
    checkEngagementReferences(cfg, ctx);
  });

export type GatewayConfig = z.infer<typeof configSchema>;

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** JSON Schema (draft 2020-12) of the config file, for editors (yaml-language-server) and ops pipelines. */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return { ...schema, $id: 'https://gatehouse.io/schemas/config.json', title: 'Gatehouse gateway config' };
}
