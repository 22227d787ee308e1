import { z } from 'zod';
import { idSchema } from '../../config/common.js';

/**
 * Where a device's GPIO lines come from (shared by the `gpio` and `wiegand` drivers):
 * - `onoff`: real lines through the Linux sysfs GPIO interface. Line numbers are
 *   sysfs numbers: `chipBase` (a number or `auto`, which finds the Raspberry Pi
 *   header chip) is added to each `gpio` (docs/readers.md, "GPIO numbers").
 * - `socket`: a Unix socket the gateway listens on; a simulator or the venue demo
 *   connects and drives inputs / watches outputs with a line protocol (docs/readers.md).
 */
export const pinsSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('onoff'),
    chipBase: z.union([z.number().int().min(0), z.literal('auto')]).default(0),
  }),
  z.strictObject({
    kind: z.literal('socket'),
    path: z.string().min(1).describe('Unix socket path the gateway listens on, e.g. /run/gatehouse/lane1.sock'),
  }),
]);
export type PinsConfig = z.infer<typeof pinsSchema>;

const gpioNumber = z.number().int().min(0).max(1023).describe('GPIO number on the chip (BCM number on a Raspberry Pi); required with pins.kind onoff');

export const inputLineSchema = z.strictObject({
  gpio: gpioNumber.optional(),
  /** Active low: the input is "on" when the line reads 0 (contacts to ground with a pull-up). */
  activeLow: z.boolean().default(true),
  /** A level must hold this long before it counts (contact bounce). */
  debounceMs: z.number().int().min(0).max(1000).default(20),
});
export type InputLineConfig = z.infer<typeof inputLineSchema>;

export const outputLineSchema = z.strictObject({
  gpio: gpioNumber.optional(),
  /** Active low: the output is "on" when driven to 0 (many relay boards). */
  activeLow: z.boolean().default(false),
});
export type OutputLineConfig = z.infer<typeof outputLineSchema>;

/** Config of one `gpio` device (an element of `devices:`): door / turnstile I/O. Owned by drivers/gpio. */
export const gpioDeviceSchema = z
  .strictObject({
    id: idSchema,
    driver: z.literal('gpio'),
    pins: pinsSchema.default({ kind: 'onoff', chipBase: 0 }),
    outputs: z
      .strictObject({
        /** Release relay (door strike / turnstile solenoid), pulsed on a grant. */
        relay: outputLineSchema.optional(),
        /** Green LED (on for the pulse of a grant). */
        led: outputLineSchema.optional(),
        /** Buzzer (sounds on a denial). */
        buzzer: outputLineSchema.optional(),
      })
      .default({}),
    inputs: z
      .strictObject({
        /** Door contact: "on" = open. */
        door: inputLineSchema.optional(),
        /** Request-to-exit button. */
        rex: inputLineSchema.optional(),
        /** Turnstile rotation sensor: one "on" per passage. */
        rotation: inputLineSchema.optional(),
        /** Reader / enclosure tamper switch: "on" = tampered. */
        tamper: inputLineSchema.optional(),
      })
      .default({}),
    /** A grant not followed by a rotation (or door opening) within this many seconds is `granted_not_used`. */
    passageTimeoutS: z.number().positive().max(600).default(10),
    /** Door open longer than this raises `door_held`. */
    doorHeldS: z.number().positive().max(3600).default(30),
    /** A door opened within this many seconds of a request-to-exit press is not forced. */
    rexWindowS: z.number().positive().max(600).default(10),
    /** Pulse the relay when request-to-exit is pressed (ms; 0 = do not release). */
    rexPulseMs: z.number().int().min(0).max(60_000).default(1000),
    /** Buzzer length on a denial (ms; 0 = silent). */
    denyBuzzMs: z.number().int().min(0).max(10_000).default(500),
  })
  .superRefine((cfg, ctx) => {
    if (cfg.pins.kind !== 'onoff') return;
    for (const group of ['outputs', 'inputs'] as const) {
      for (const [name, line] of Object.entries(cfg[group])) {
        if (line && line.gpio === undefined) ctx.addIssue({ code: 'custom', path: [group, name, 'gpio'], message: 'gpio is required when pins.kind is onoff' });
      }
    }
  });
export type GpioDeviceConfig = z.infer<typeof gpioDeviceSchema>;
