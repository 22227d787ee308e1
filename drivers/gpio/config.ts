import { z } from 'zod';
import { idSchema } from '../../config/common.js';

/** Config of one `gpio` device (an element of `devices:`). Owned by drivers/gpio. */
export const gpioDeviceSchema = z.strictObject({
  id: idSchema,
  driver: z.literal('gpio'),
});
export type GpioDeviceConfig = z.infer<typeof gpioDeviceSchema>;
