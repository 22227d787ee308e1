import type { MqttDeviceType, MqttGrant } from './config.js';

/**
 * Topic authorisation, pure (docs/mqtt.md "Access rules"). A device may touch
 * only its own subtree `gatehouse/<gateway>/<device>/…` and the filters it is
 * granted; `$`-topics ($SYS, $share) are never reachable.
 */

export const TOPIC_ROOT = 'gatehouse';

/** Leaf topics the gateway itself publishes into a device's subtree; devices may not publish there. */
export const GATEWAY_OWNED_LEAVES = new Set(['decision', 'content', 'error']);

/** Leaf topics the gateway reads from a device, by device type. */
export const INBOUND_LEAVES: Record<MqttDeviceType, readonly string[]> = {
  reader: ['status', 'scan'],
  kiosk: ['status', 'interaction'],
  sign: ['status', 'ack'],
  app: ['status', 'sighting'],
};

export function deviceTopic(gatewayId: string, deviceId: string, leaf: string): string {
  return `${TOPIC_ROOT}/${gatewayId}/${deviceId}/${leaf}`;
}

/** `gatehouse/<gw>/_gateway/status`: the gateway's own retained status (device ids cannot start with "_"). */
export function gatewayStatusTopic(gatewayId: string): string {
  return `${TOPIC_ROOT}/${gatewayId}/_gateway/status`;
}

/** Does `filter` match concrete `topic`? MQTT 3.1.1 §4.7: `+` one level, `#` the rest (and the parent). */
export function topicMatches(filter: string, topic: string): boolean {
  // MQTT-4.7.2-1: wildcards at the first level never match $-topics.
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return i === f.length - 1;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

/** Is every topic that `requested` matches also matched by `granted`? (Used to check SUBSCRIBE filters.) */
export function filterCovers(granted: string, requested: string): boolean {
  const g = granted.split('/');
  const r = requested.split('/');
  for (let i = 0; i < g.length; i++) {
    const level = g[i];
    if (level === '#') return true;
    if (i >= r.length) return false;
    const req = r[i];
    if (req === '#') return false;
    if (level === '+') continue;
    if (req === '+' || req !== level) return false;
  }
  return g.length === r.length;
}

/** A valid MQTT filter: `#` only last and alone in its level, `+` alone in its level (MQTT-4.7.1-2, -3). */
export function isValidFilter(filter: string): boolean {
  if (filter.length === 0 || filter.includes('\u0000')) return false;
  const levels = filter.split('/');
  return levels.every((l, i) => (l === '#' ? i === levels.length - 1 : l === '+' || (!l.includes('#') && !l.includes('+'))));
}

export interface AclSubject {
  deviceId: string;
  grants: readonly MqttGrant[];
}

export type AclVerdict = { ok: true } | { ok: false; reason: string };

const allow: AclVerdict = { ok: true };

/** Expands `{gateway}` in grant topics once, at start-up. */
export function resolveGrants(grants: readonly MqttGrant[], gatewayId: string): MqttGrant[] {
  return grants.map((g) => ({ ...g, topic: g.topic.replaceAll('{gateway}', gatewayId) }));
}

export function canPublish(subject: AclSubject, gatewayId: string, topic: string): AclVerdict {
  if (topic.startsWith('$')) return { ok: false, reason: '$-topics are reserved' };
  const own = `${TOPIC_ROOT}/${gatewayId}/${subject.deviceId}/`;
  if (topic.startsWith(own)) {
    const leaf = topic.slice(own.length);
    if (GATEWAY_OWNED_LEAVES.has(leaf)) return { ok: false, reason: `"${leaf}" is published by the gateway only` };
    return allow;
  }
  if (subject.grants.some((g) => g.access !== 'subscribe' && topicMatches(g.topic, topic))) return allow;
  return { ok: false, reason: 'outside the device subtree and its grants' };
}

export function canSubscribe(subject: AclSubject, gatewayId: string, filter: string): AclVerdict {
  if (filter.startsWith('$')) return { ok: false, reason: '$-topics ($SYS, $share) are not available' };
  if (!isValidFilter(filter)) return { ok: false, reason: 'not a valid topic filter' };
  if (filterCovers(`${TOPIC_ROOT}/${gatewayId}/${subject.deviceId}/#`, filter)) return allow;
  if (subject.grants.some((g) => g.access !== 'publish' && filterCovers(g.topic, filter))) return allow;
  return { ok: false, reason: 'filter reaches beyond the device subtree and its grants' };
}
