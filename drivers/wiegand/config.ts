import { z } from 'zod';
import { idSchema } from '../../config/common.js';

/** Config of one `wiegand` device (an element of `devices:`). Owned by drivers/wiegand. */
export const wiegandDeviceSchema = z.strictObject({
  id: idSchema,
  driver: z.literal('wiegand'),
});
export type WiegandDeviceConfig = z.infer<typeof wiegandDeviceSchema>;
