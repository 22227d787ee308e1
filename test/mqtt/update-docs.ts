/**
 * Rewrites the JSON Schema blocks of docs/mqtt.md from the validators in
 * drivers/mqtt/payloads.ts. Run after changing a payload schema:
 *   npx tsx test/mqtt/update-docs.ts
 * (test/mqtt/docs.test.ts fails until the page matches.)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { payloadJsonSchemas } from '../../drivers/mqtt/payloads.js';

const file = new URL('../../docs/mqtt.md', import.meta.url);
let doc = readFileSync(file, 'utf8');
for (const [name, schema] of Object.entries(payloadJsonSchemas())) {
  const block = new RegExp(`(<summary>JSON Schema of <code>${name}</code></summary>\\n\\n\`\`\`json\\n)[\\s\\S]*?(\\n\`\`\`)`);
  if (!block.test(doc)) throw new Error(`docs/mqtt.md has no schema block for ${name}`);
  doc = doc.replace(block, (_m, open: string, close: string) => open + JSON.stringify(schema, null, 2) + close);
}
writeFileSync(file, doc);
