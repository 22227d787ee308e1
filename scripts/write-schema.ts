// Writes docs/config.schema.json from the config schema (`npm run schema`).
// gateway/cli/commands/config.test.ts fails when the file is out of date.
import { writeFileSync } from 'node:fs';
import { configJsonSchema } from '../config/schema.js';

writeFileSync(new URL('../docs/config.schema.json', import.meta.url), JSON.stringify(configJsonSchema(), null, 2) + '\n');
