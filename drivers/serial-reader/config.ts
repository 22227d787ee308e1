import { z } from 'zod';
import { idSchema } from '../../config/common.js';

/** Config of one `serial-reader` device (an element of `devices:`). Owned by drivers/serial-reader. */
export const serialReaderDeviceSchema = z.strictObject({
  id: idSchema,
  driver: z.literal('serial-reader'),
});
export type SerialReaderDeviceConfig = z.infer<typeof serialReaderDeviceSchema>;
