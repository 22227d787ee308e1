import { z } from 'zod';
import { idSchema } from '../../config/common.js';

/**
 * Gap between two POLLs to the same idle reader. libosdp polls every 50 ms
 * (OSDP_PD_POLL_TIMEOUT_MS; Zephyr's CONFIG_OSDP_PD_POLL_RATE defaults to 20/s)
 * and the OSDP spec sets no rate. We poll a little faster because the wait for
 * the next POLL is up to one interval of the card -> feedback time, whose p99
 * target is 60 ms with 4 readers at 115200 (issue #4): `gatehouse bench osdp`
 * gave p99 52-70 ms at 50 ms and 33-55 ms at 30 ms on the shared 2-core VM
 * (docs/osdp.md "Timing"). An idle reader then costs 33 exchanges a second
 * instead of as many as the line carries.
 */
export const DEFAULT_POLL_INTERVAL_MS = 30;

/** Secure Channel settings of one reader (docs/osdp.md "Secure Channel"). */
export const osdpSecureChannelSchema = z.strictObject({
  keyFile: z
    .string()
    .min(1)
    .describe('File holding the reader\'s SCBK as 32 hex digits (mode 0600). Relative paths resolve against the config file. Written by install mode.'),
  install: z.boolean().default(false).describe('Install mode: when the key file is missing (or its key fails), handshake with SCBK-D and KEYSET a fresh random key into keyFile. Turn off once installed.'),
  allowPlaintext: z.boolean().default(false).describe('Carry on in plain text when the secure channel fails (reported every time). Off: the reader stays offline until the channel works.'),
});

export const osdpReaderSchema = z.strictObject({
  address: z.number().int().min(0).max(126).describe('OSDP address of the reader on the bus (0-126).'),
  name: z.string().optional(),
  secureChannel: osdpSecureChannelSchema.optional(),
});

export const osdpFeedbackSchema = z.strictObject({
  /** How long the decision colour shows before the reader goes back to its idle colour. */
  ledMs: z.number().int().min(100).max(25_500).default(2000),
  grantedColor: z.enum(['green', 'blue', 'white', 'cyan']).default('green'),
  deniedColor: z.enum(['red', 'amber', 'magenta']).default('red'),
  /** Flash the denied colour (200 ms on / 200 ms off) instead of a steady light. */
  deniedFlash: z.boolean().default(true),
  buzzer: z.boolean().default(true),
  /** Show the decision's display text on readers with a display. */
  text: z.boolean().default(false),
  /** Output (relay) number pulsed on grant; the pulse length comes from the lane. */
  output: z.number().int().min(0).max(255).default(0),
});

/** Config of one `osdp` device: one RS-485 bus with its readers. Owned by drivers/osdp. */
export const osdpDeviceSchema = z
  .strictObject({
    id: idSchema,
    driver: z.literal('osdp'),
    path: z.string().min(1).describe('Serial device of the RS-485 adapter, e.g. /dev/ttyUSB0 or /dev/serial/by-id/...'),
    baudRate: z.union([z.literal(9600), z.literal(19200), z.literal(38400), z.literal(57600), z.literal(115200), z.literal(230400)]).default(115200),
    readers: z.array(osdpReaderSchema).min(1).max(127),
    replyTimeoutMs: z.number().int().min(20).max(2000).default(200).describe('Reply timeout; the wire time of the command is added.'),
    offlineAfterMs: z.number().int().min(1000).max(60_000).default(8000),
    pollIntervalMs: z
      .number()
      .int()
      .min(0)
      .max(1000)
      .default(DEFAULT_POLL_INTERVAL_MS)
      .describe('Gap between two POLLs to the same idle reader: a card is picked up within it. Decision feedback is sent at once regardless. 0 polls back to back (more CPU, no faster feedback).'),
    thread: z
      .enum(['main', 'worker'])
      .default('main')
      .describe('Where the bus runs: `main`, the event loop that decides (the default), or `worker`, one thread shared by every OSDP bus of the gateway, for boxes with cores to spare (docs/osdp.md "The OSDP thread").'),
    /** Accept card formats no decoder knows as `raw:<bits>:<hex>` credentials. */
    allowRaw: z.boolean().default(false),
    feedback: osdpFeedbackSchema.default({ ledMs: 2000, grantedColor: 'green', deniedColor: 'red', deniedFlash: true, buzzer: true, text: false, output: 0 }),
  })
  .superRefine((cfg, ctx) => {
    const seen = new Set<number>();
    cfg.readers.forEach((r, i) => {
      if (seen.has(r.address)) ctx.addIssue({ code: 'custom', path: ['readers', i, 'address'], message: `duplicate reader address ${r.address} on this bus` });
      seen.add(r.address);
    });
  });
export type OsdpDeviceConfig = z.infer<typeof osdpDeviceSchema>;
export type OsdpReaderConfig = z.infer<typeof osdpReaderSchema>;
