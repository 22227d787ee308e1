import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCentralStandIn, type CentralStandIn } from '../../scripts/central/index.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/appender.ts', import.meta.url));
const KILLS = 22;

describe('kill -9 while appending and delivering', () => {
  let central: CentralStandIn;
  let dir: string;
  const children = new Set<ChildProcess>();

  beforeAll(async () => {
    central = await startCentralStandIn({ token: 'k9' });
    dir = mkdtempSync(join(tmpdir(), 'gh-kill9-'));
  });
  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await central.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs the fixture; resolves with its complete stdout lines once it exits. */
  const run = (env: Record<string, string>, killAfterFirstAckMs?: number) =>
    new Promise<string[]>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], { env: { ...process.env, DATA_DIR: dir, CENTRAL_URL: central.url, TOKEN: 'k9', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      children.add(child);
      let out = '';
      let err = '';
      let armed = false;
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (killAfterFirstAckMs !== undefined && !armed && out.includes('ack ')) {
          armed = true;
          setTimeout(() => child.kill('SIGKILL'), killAfterFirstAckMs);
        }
      });
      child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
      child.on('error', reject);
      child.on('exit', (code, signal) => {
        children.delete(child);
        if (signal !== 'SIGKILL' && code !== 0) reject(new Error(`fixture exited ${code}: ${err}`));
        // A line counts only when complete: the child writes each `ack <id>\n` in one write.
        const lines = out.split('\n');
        lines.pop();
        resolve(lines);
      });
    });

  it(`delivers every acknowledged event exactly once after ${KILLS} SIGKILLs at random moments`, async () => {
    const acked = new Set<string>();
    for (let k = 0; k < KILLS; k++) {
      const lines = await run({}, 20 + Math.floor(Math.random() * 250));
      for (const l of lines) if (l.startsWith('ack ')) acked.add(l.slice(4));
    }
    const drained = await run({ DRAIN_ONLY: '1' });
    expect(drained).toContain('drained');
    const held = new Set(central.events().map((e) => e.id));
    const missing = [...acked].filter((id) => !held.has(id));
    expect(missing).toEqual([]);
    expect(acked.size).toBeGreaterThan(KILLS * 10);
    // The central side dedupes by id; what reaches it twice is bounded by the one batch (25 events)
    // that can be in flight when a kill lands between the ack and marking the rows delivered.
    expect(central.counts().duplicates).toBeLessThanOrEqual((KILLS + 1) * 25);
  }, 240_000);
});
