import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/**
 * Tests that need a system tool skip with a message when it is missing, on a
 * developer's machine. CI sets GATEHOUSE_REQUIRE_TOOLS=1 (.ci/run installs
 * them all): there, a missing tool is a failure, so nothing is skipped silently.
 */
const TOOLS = ['socat', 'mosquitto', 'mosquitto_pub', 'mosquitto_sub', 'chromium'];

function onPath(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
}

const missing = TOOLS.filter((t) => !onPath(t));
if (missing.length > 0) console.warn(`integration tests needing ${missing.join(', ')} will be skipped: install them with apt-get`);

describe('system tools for the integration tests', () => {
  it.skipIf(process.env.GATEHOUSE_REQUIRE_TOOLS !== '1')('are all installed when CI requires them', () => {
    expect(missing).toEqual([]);
  });
});
