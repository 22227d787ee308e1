import { z } from 'zod';
import { idSchema } from '../../config/common.js';

/** Config of one `hid` device (an element of `devices:`). Owned by drivers/hid. */
export const hidDeviceSchema = z.strictObject({
  id: idSchema,
  driver: z.literal('hid'),
});
export type HidDeviceConfig = z.infer<typeof hidDeviceSchema>;
