import { z } from 'zod';
import { idSchema } from '../../config/common.js';

/** Config of one `osdp` device (an element of `devices:`). Owned by drivers/osdp. */
export const osdpDeviceSchema = z.strictObject({
  id: idSchema,
  driver: z.literal('osdp'),
});
export type OsdpDeviceConfig = z.infer<typeof osdpDeviceSchema>;
