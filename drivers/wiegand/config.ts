import { z } from 'zod';
import { idSchema } from '../../config/common.js';
import { outputLineSchema, pinsSchema } from '../gpio/config.js';
import { CARD_FORMATS } from './formats.js';

const dataLine = z.strictObject({
  gpio: z.number().int().min(0).max(1023).optional().describe('GPIO number (BCM on a Raspberry Pi); required with pins.kind onoff'),
});

/** Config of one `wiegand` device (an element of `devices:`): a reader on two GPIO lines. Owned by drivers/wiegand. */
export const wiegandDeviceSchema = z
  .strictObject({
    id: idSchema,
    driver: z.literal('wiegand'),
    pins: pinsSchema.default({ kind: 'onoff', chipBase: 0 }),
    /** DATA0 (green wire): a low pulse is a 0 bit. Through a 5 V -> 3.3 V level shifter. */
    d0: dataLine.default({}),
    /** DATA1 (white wire): a low pulse is a 1 bit. */
    d1: dataLine.default({}),
    /** Reader LED control wire (brown on HID readers: pull low for green). */
    led: outputLineSchema.optional(),
    /** Reader beeper control wire (yellow on HID readers: pull low to beep). */
    buzzer: outputLineSchema.optional(),
    /** Idle time that ends a frame. */
    frameTimeoutMs: z.number().min(2).max(500).default(25),
    /** Card formats accepted (default: all known ones). */
    formats: z.array(z.enum(CARD_FORMATS.map((f) => f.name) as [string, ...string[]])).optional(),
    /** Accept frames of unknown length as `raw:<bits>:<hex>` credentials (never frames that fail a known format's parity). */
    allowRaw: z.boolean().default(false),
    /** 4- and 8-bit frames are keypad keys, assembled into a PIN until '#'. */
    keypad: z.boolean().default(true),
    pinMaxLength: z.number().int().min(1).max(32).default(12),
    /** Keys further apart than this start a new PIN. */
    pinTimeoutMs: z.number().int().min(500).max(120_000).default(10_000),
    /** Frames longer than this are a stuck or noisy line. */
    maxFrameBits: z.number().int().min(8).max(256).default(128),
    /** D0/D1 pulses closer than this mark the frame as noise (0 = off; see docs/readers.md before enabling on sysfs). */
    minBitIntervalMs: z.number().min(0).max(5).default(0),
    /** LED on time for a grant and beeper time for a denial when the lane gives no pulse length. */
    feedbackMs: z.number().int().min(0).max(10_000).default(1000),
  })
  .superRefine((cfg, ctx) => {
    if (cfg.pins.kind !== 'onoff') return;
    for (const key of ['d0', 'd1', 'led', 'buzzer'] as const) {
      const line = cfg[key];
      if (line && line.gpio === undefined) ctx.addIssue({ code: 'custom', path: [key, 'gpio'], message: 'gpio is required when pins.kind is onoff' });
    }
  });
export type WiegandDeviceConfig = z.infer<typeof wiegandDeviceSchema>;
