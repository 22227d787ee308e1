import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BENCH_BUILD_DIR, compiledGateway } from './compiled-gateway.js';

describe('the gateway a benchmark measures', () => {
  it('compiles this checkout with the build tsconfig into the cache directory', async () => {
    const calls: string[][] = [];
    const outDir = mkdtempSync(join(tmpdir(), 'gh-bench-build-'));
    // A stand-in for tsc that writes nothing: the missing entry point is reported, not started.
    const r = compiledGateway({ outDir, run: async (tsc, args) => void calls.push([tsc, ...args]) });
    await expect(r).rejects.toMatchObject({ code: 'GH_SIM_GATEWAY', message: expect.stringContaining('left no') });
    expect(calls).toHaveLength(1);
    expect(calls[0]![0]).toMatch(/typescript[/\\]bin[/\\]tsc$/);
    expect(calls[0]!.slice(1)).toEqual(['-p', expect.stringMatching(/tsconfig\.build\.json$/), '--outDir', outDir]);
    rmSync(outDir, { recursive: true, force: true });
    expect(BENCH_BUILD_DIR).toMatch(/node_modules[/\\]\.cache[/\\]gatehouse-bench[/\\]$/);
  });

  it('reports what tsc said when the source does not compile', async () => {
    const failing = async () => {
      throw Object.assign(new Error('Command failed'), { stdout: "gateway/x.ts(1,1): error TS2304: Cannot find name 'y'." });
    };
    await expect(compiledGateway({ run: failing })).rejects.toMatchObject({ code: 'GH_SIM_GATEWAY', message: expect.stringContaining('TS2304') });
  });

  it('measures the source through tsx when asked, and says so', async () => {
    await expect(compiledGateway({ source: true, run: async () => expect.fail('no build wanted') })).resolves.toEqual({ kind: 'source (tsx)', note: 'asked for the source' });
  });
});
