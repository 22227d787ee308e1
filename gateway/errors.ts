/**
 * The one registry of error codes (STYLE.md "Errors have names"). Logs,
 * metrics and CLI output use these codes; docs/errors.md documents each one
 * and gateway/errors.test.ts keeps the two in step.
 *
 * Add a code to the section of its domain, with a one-line meaning.
 */
export const ERROR_CODES = {
  // --- general / CLI ---
  GH_INTERNAL: 'An unexpected internal error; the component that raised it is restarted.',
  GH_USAGE: 'Invalid command-line arguments.',

  // --- config ---
  GH_CONFIG_NOT_FOUND: 'The config file does not exist or cannot be read.',
  GH_CONFIG_YAML: 'The config file is not valid YAML.',
  GH_CONFIG_INVALID: 'The config file does not match the schema.',
  GH_CONFIG_SECRET: 'A secret named in the config (file or environment variable) cannot be read.',
  GH_CONFIG_RELOAD_REJECTED: 'A changed config file was rejected; the running config stays.',

  // --- storage ---
  GH_STORE_OPEN: 'A SQLite database could not be opened.',
  GH_STORE_CORRUPT: 'A SQLite database failed its integrity check and was moved aside.',
  GH_STORE_MIGRATION: 'A schema migration failed.',
  GH_STORE_DISK_FULL: 'The disk is full; writes are refused until space is freed.',
  GH_STORE_DATA_DIR: 'The data directory is missing or not writable.',

  // --- access ---
  GH_ACCESS_INVALID_CREDENTIAL: 'A credential was empty, too long or contained bytes no reader sends.',
  GH_ACCESS_CACHE_MISSING: 'No entitlement cache is loaded; lanes decide by their fail mode.',
  GH_ACCESS_CACHE_STALE: 'The entitlement cache is older than a lane\'s maximum age.',
  GH_ACCESS_UNKNOWN_LANE: 'A read arrived from a reader that no lane uses.',
  GH_ACCESS_KEY: 'The credential-hashing key file is missing or too short.',
  GH_ACCESS_SNAPSHOT_FAILED: 'An entitlement snapshot could not be loaded; the previous cache stays in use.',
  GH_ACCESS_STATE_WRITE: 'Anti-passback and occupancy state could not be written; it is kept in memory and retried.',

  // --- outbox / uplink ---
  GH_OUTBOX_FULL: 'The outbox reached its disk budget; low-priority events are shed.',
  GH_OUTBOX_APPEND: 'An event could not be appended to the outbox.',
  GH_UPLINK_HTTP: 'The central API answered with an error status.',
  GH_UPLINK_NETWORK: 'The central API could not be reached.',
  GH_UPLINK_DEAD_LETTER: 'The central API rejected a batch permanently; it was moved to the dead-letter table.',
  GH_UPLINK_MQTT: 'The MQTT uplink broker could not be reached or refused a publish.',
  GH_UPLINK_AUTH: 'The central API refused the gateway itself (HTTP 401/403/404: wrong token, certificate or URL); the batch was dead-lettered and the uplink backs off.',

  // --- downlink ---
  GH_DOWNLINK_SIGNATURE: 'An entitlement snapshot or change was unsigned or had a bad signature.',
  GH_DOWNLINK_FORMAT: 'An entitlement snapshot or change could not be parsed.',
  GH_DOWNLINK_HTTP: 'The central API refused or failed an entitlement request.',

  // --- drivers: common ---
  GH_DRIVER_FAILED: 'A driver failed and is being restarted with backoff.',
  GH_DRIVER_UNAVAILABLE: 'A driver cannot run on this machine (missing hardware, library or permission).',
  GH_RT_PRIORITY: 'The event loop could not get the real-time priority `gateway.realtimePriority` asks for (no permission, no chrt); it runs at normal priority.',
  GH_SERIAL_OPEN: 'A serial port could not be opened.',

  // --- drivers: OSDP ---
  GH_OSDP_BAD_CRC: 'An OSDP frame failed its CRC or checksum.',
  GH_OSDP_BAD_FRAME: 'Bytes on an OSDP bus did not form a valid frame.',
  GH_OSDP_TIMEOUT: 'An OSDP reader did not reply in time.',
  GH_OSDP_NAK: 'An OSDP reader refused a command (NAK).',
  GH_OSDP_SEQUENCE: 'An OSDP reply had an unexpected sequence number.',
  GH_OSDP_SECURE_CHANNEL: 'OSDP Secure Channel failed (handshake, MAC or decryption).',
  GH_OSDP_ADDRESS: 'An OSDP reply came from an unexpected address.',
  GH_OSDP_OVERSIZE: 'An OSDP frame declared a length beyond the accepted maximum.',
  GH_OSDP_FLOOD: 'Bytes or replies arrived on an OSDP bus while no command was outstanding.',
  GH_OSDP_WORKER: 'The thread that runs the OSDP buses failed or could not start; it is restarted (or the buses run on the main thread).',
  GH_OSDP_KEY: 'An OSDP Secure Channel key file is unreadable, malformed or could not be written.',

  // --- drivers: Wiegand / GPIO / HID / serial readers ---
  GH_WIEGAND_PARITY: 'A Wiegand frame failed its parity check.',
  GH_WIEGAND_FORMAT: 'A Wiegand frame had a bit count no configured format knows.',
  GH_WIEGAND_NOISE: 'Pulses on Wiegand lines were rejected as noise.',
  GH_GPIO_UNAVAILABLE: 'GPIO is not accessible on this machine.',
  GH_HID_UNAVAILABLE: 'A HID reader (or node-hid/hidraw) is not available.',
  GH_HID_BAD_REPORT: 'A HID report contained unexpected usages.',
  GH_SERIAL_READER_FRAME: 'A serial reader frame was malformed or failed its checksum.',

  // --- drivers: MQTT bus ---
  GH_MQTT_AUTH: 'An MQTT client failed authentication.',
  GH_MQTT_ACL: 'An MQTT client tried to publish or subscribe outside its subtree.',
  GH_MQTT_PAYLOAD: 'An MQTT payload was malformed or did not match its schema.',
  GH_MQTT_OVERSIZE: 'An MQTT payload exceeded the device\'s maximum size.',
  GH_MQTT_RATE: 'An MQTT client exceeded its publish rate.',
  GH_MQTT_CONNECTIONS: 'The broker refused a connection over its connection limit.',

  // --- drivers: BLE / engagement ---
  GH_BLE_UNAVAILABLE: 'The BLE radio or the permission to use it is missing.',
  GH_BLE_BAD_ADV: 'A BLE advertisement was malformed or truncated.',
  GH_ENGAGEMENT_RULE: 'A content rule could not be evaluated.',
  GH_ENGAGEMENT_STATE: 'Engagement visit history could not be written; changes stay in memory and the write is retried.',

  // --- venue (multi-gateway) ---
  GH_VENUE_LINK: 'The shared venue broker is unreachable.',
  GH_VENUE_MESSAGE: 'A venue message was malformed, from an unknown gateway or a replay.',
  GH_VENUE_CLOCK_SKEW: 'A peer gateway\'s clock is skewed beyond the allowed bound.',

  // --- ops ---
  GH_PROVISION_EXISTS: 'Provisioning would overwrite an existing secret (use --force).',
  GH_DOCTOR_FAILED: 'One or more doctor checks failed.',
  GH_SYSTEMD_NOTIFY: 'A readiness or watchdog notification to systemd failed; systemd may restart the gateway.',
  GH_SIM_SCENARIO_INVALID: 'A simulation scenario file is unreadable or does not match the scenario schema.',
  GH_SIM_GATEWAY: 'The simulated venue could not start or drive the gateway under test.',
} as const satisfies Record<string, string>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** An error the gateway raises on purpose: it always carries a stable code. */
export class GatehouseError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GatehouseError';
    this.code = code;
    this.details = details;
  }
}

export function isGatehouseError(err: unknown, code?: ErrorCode): err is GatehouseError {
  return err instanceof GatehouseError && (code === undefined || err.code === code);
}

/** The code to log/count for any thrown value. */
export function errorCodeOf(err: unknown): ErrorCode {
  return err instanceof GatehouseError ? err.code : 'GH_INTERNAL';
}
