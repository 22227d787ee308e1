export { openOutbox, ROW_OVERHEAD_BYTES, type Outbox, type OutboxOptions, type OutboxRow, type OutboxStats, type DeadLetter } from './outbox/outbox.js';
export { createUplink, backoffDelay, DEFAULT_BACKOFF, type Uplink, type UplinkOptions, type UplinkStatus, type BackoffOptions } from './uplink/uplink.js';
export { httpTransport, isRetryableStatus, type HttpTransportOptions } from './uplink/http.js';
export { mqttTransport, type MqttTransportOptions } from './uplink/mqtt.js';
export { batchBody, idempotencyKey, parseRetryAfter, type UplinkTransport, type UplinkBatch, type SendResult } from './uplink/transport.js';
export { parsePublicKey, signLines, signatureLine, SignedBodyVerifier, SIGNED_MESSAGE_PREFIX } from './downlink/signature.js';
export { createDownlink, parseChange, type Downlink, type DownlinkOptions, type SnapshotProgress, type SnapshotResult } from './downlink/downlink.js';
export { transportFromConfig, readCentralTls, type CentralConfig } from './config.js';
