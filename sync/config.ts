import type { z } from 'zod';
import { readSecret, readSecretText, resolveFromConfig } from '../config/secrets.js';
import type { centralSchema } from '../config/sections/central.js';
import { httpTransport } from './uplink/http.js';
import { mqttTransport } from './uplink/mqtt.js';
import type { UplinkTransport } from './uplink/transport.js';

export type CentralConfig = z.infer<typeof centralSchema>;

/** Reads the TLS files named in `central.tls` (paths relative to the config file). */
export function readCentralTls(central: CentralConfig, baseDir: string): { ca?: Buffer; cert?: Buffer; key?: Buffer } | undefined {
  if (!central.tls) return undefined;
  const out: { ca?: Buffer; cert?: Buffer; key?: Buffer } = {};
  for (const k of ['ca', 'cert', 'key'] as const) {
    const file = central.tls[k];
    if (file) out[k] = readSecret({ file: resolveFromConfig(baseDir, file) }, baseDir);
  }
  return out;
}

/** The uplink transport the `central` section asks for (docs/sync.md): HTTP by default, MQTT with `transport: mqtt`. */
export function transportFromConfig(central: CentralConfig, gatewayId: string, baseDir: string): UplinkTransport {
  const tls = readCentralTls(central, baseDir);
  if (central.transport === 'mqtt' && central.mqtt) {
    const m = central.mqtt;
    return mqttTransport({
      url: m.url,
      topic: m.topic.replaceAll('{gateway}', gatewayId),
      clientId: m.clientId ?? `gatehouse-${gatewayId}`,
      ...(m.username !== undefined ? { username: m.username } : {}),
      ...(m.password ? { password: readSecretText(m.password, baseDir) } : {}),
      ...(tls ? { tls } : {}),
      timeoutMs: central.timeoutMs,
    });
  }
  return httpTransport({
    url: central.url,
    ...(central.token ? { token: readSecretText(central.token, baseDir) } : {}),
    ...(tls ? { tls } : {}),
    timeoutMs: central.timeoutMs,
    gatewayId,
  });
}
