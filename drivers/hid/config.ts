import { z } from 'zod';
import { idSchema } from '../../config/common.js';

/**
 * Config of one `hid` device (an element of `devices:`): a USB keyboard-wedge
 * reader, selected by vendor/product id (and optionally serial) or by its
 * hidraw path. Owned by drivers/hid.
 */
export const hidDeviceSchema = z
  .strictObject({
    id: idSchema,
    driver: z.literal('hid'),
    /** USB vendor id, e.g. 0x0c27 (YAML reads hex). */
    vendorId: z.number().int().min(0).max(0xffff).optional(),
    productId: z.number().int().min(0).max(0xffff).optional(),
    /** Picks one of several identical readers. */
    serialNumber: z.string().optional(),
    /** A hidraw path (`/dev/hidraw3`) or a stable udev symlink (`/dev/gatehouse-reader-1`). */
    path: z.string().min(1).optional(),
    /** What the reader types: card numbers or barcodes/QR payloads. */
    kind: z.enum(['card', 'barcode']).default('card'),
    /** Keys further apart than this start a new credential (wedge readers type a whole number in a few ms per key). */
    interKeyTimeoutMs: z.number().int().min(10).max(10_000).default(200),
    /** Longest credential accepted; longer input is discarded. */
    maxLength: z.number().int().min(1).max(512).default(64),
  })
  .superRefine((cfg, ctx) => {
    if (cfg.path === undefined && (cfg.vendorId === undefined || cfg.productId === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['vendorId'], message: 'give vendorId and productId, or path' });
    }
  });
export type HidDeviceConfig = z.infer<typeof hidDeviceSchema>;
