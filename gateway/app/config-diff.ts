import { isDeepStrictEqual } from 'node:util';
import type { DeviceConfig, GatewayConfig } from '../../config/schema.js';

/** What a reload has to touch; everything not listed keeps running. */
export interface ConfigDiff {
  devicesAdded: DeviceConfig[];
  devicesRemoved: string[];
  /** Same id, different settings: stopped and started with the new settings. */
  devicesChanged: DeviceConfig[];
  /** Zones or lanes changed: the access engine and lane router are rebuilt and swapped. */
  accessChanged: boolean;
  /** Rules, beacons or zones changed: the engagement side reloads. */
  engagementChanged: boolean;
  /** Settings a reload cannot apply (identity, storage, central, broker, admin, venue link): a restart is needed. */
  needsRestart: RestartSection[];
}

const RESTART_SECTIONS = ['gateway', 'storage', 'secrets', 'central', 'broker', 'admin', 'venue'] as const;
export type RestartSection = (typeof RESTART_SECTIONS)[number];

export function diffConfig(prev: GatewayConfig, next: GatewayConfig): ConfigDiff {
  const before = new Map(prev.devices.map((d) => [d.id, d]));
  const after = new Map(next.devices.map((d) => [d.id, d]));
  const devicesAdded = next.devices.filter((d) => !before.has(d.id));
  const devicesRemoved = prev.devices.filter((d) => !after.has(d.id)).map((d) => d.id);
  const devicesChanged = next.devices.filter((d) => before.has(d.id) && !isDeepStrictEqual(before.get(d.id), d));
  return {
    devicesAdded,
    devicesRemoved,
    devicesChanged,
    accessChanged: !isDeepStrictEqual(prev.zones, next.zones) || !isDeepStrictEqual(prev.lanes, next.lanes),
    engagementChanged: !isDeepStrictEqual(prev.rules, next.rules) || !isDeepStrictEqual(prev.beacons, next.beacons) || !isDeepStrictEqual(prev.zones, next.zones),
    needsRestart: RESTART_SECTIONS.filter((s) => !isDeepStrictEqual(prev[s], next[s])),
  };
}

export function isEmptyDiff(d: ConfigDiff): boolean {
  return d.devicesAdded.length + d.devicesRemoved.length + d.devicesChanged.length === 0 && !d.accessChanged && !d.engagementChanged && d.needsRestart.length === 0;
}
