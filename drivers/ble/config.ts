import { z } from 'zod';
import { idSchema } from '../../config/common.js';

/** Config of one `ble` device (an element of `devices:`). Owned by drivers/ble. */
export const bleDeviceSchema = z.strictObject({
  id: idSchema,
  driver: z.literal('ble'),
});
export type BleDeviceConfig = z.infer<typeof bleDeviceSchema>;
