import { z } from 'zod';
import { idSchema } from '../../config/common.js';

/** Config of one `mqtt` device (an element of `devices:`). Owned by drivers/mqtt. */
export const mqttDeviceSchema = z.strictObject({
  id: idSchema,
  driver: z.literal('mqtt'),
});
export type MqttDeviceConfig = z.infer<typeof mqttDeviceSchema>;
