import { describe, expect, it } from 'vitest';
import { run } from '../../scripts/bench/mqtt.js';

describe('bench mqtt (smoke run; the figures themselves are not asserted)', () => {
  it('returns the fields issue #6 asks for with every scan and every content delivered', async () => {
    const r = await run({ devices: 6, readers: 2, messages: 20, contents: 8 });
    expect(r).toMatchObject({ devices: 6, readers: 2, connected: 6, messages: 20, content_messages: 8 });
    for (const key of ['p50_ms', 'p99_ms', 'content_p50_ms', 'content_p99_ms']) expect(r[key]).toEqual(expect.any(Number));
  });
});
