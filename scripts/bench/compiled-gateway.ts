import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { GatehouseError } from '../../gateway/errors.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/**
 * Inside node_modules so that the compiled files resolve their dependencies
 * (better-sqlite3, aedes, ...) from this checkout's node_modules, and git ignores them.
 */
export const BENCH_BUILD_DIR = fileURLToPath(new URL('../../node_modules/.cache/gatehouse-bench/', import.meta.url));

export interface GatewayBuild {
  /** The executable to start the gateway with; undefined = this checkout's bin/gatehouse.js as it is. */
  bin?: string;
  /** What the benchmark measured: the compiled JavaScript production runs, or the TypeScript run through tsx. */
  kind: 'compiled' | 'source (tsx)';
  /** Why it is not the compiled build, when it is not. */
  note?: string;
}

/**
 * The gateway a benchmark should measure is the one production runs: the
 * JavaScript `npm run build` makes (the systemd unit and the image run
 * dist/, see bin/gatehouse.js). A source checkout runs TypeScript through
 * tsx instead: other code (esbuild's output wraps closures in `__name`
 * calls, 2 % of the event loop in a surge profile), though two alternating
 * pairs of surges measured no difference in CPU. So a source checkout is
 * compiled first, with tsc and the build's own tsconfig, into a cache
 * directory: always from the current source, never a stale dist/. About
 * 11 s on the 2-core build machine.
 */
export async function compiledGateway(opts: { source?: boolean; run?: typeof runTsc; outDir?: string } = {}): Promise<GatewayBuild> {
  if (!import.meta.url.endsWith('.ts')) return { kind: 'compiled' };
  if (opts.source) return { kind: 'source (tsx)', note: 'asked for the source' };
  const outDir = opts.outDir ?? BENCH_BUILD_DIR;
  let tsc: string;
  try {
    tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  } catch {
    return { kind: 'source (tsx)', note: 'typescript is not installed (npm ci without --omit=dev), so the source ran through tsx' };
  }
  try {
    await (opts.run ?? runTsc)(tsc, ['-p', `${ROOT}tsconfig.build.json`, '--outDir', outDir]);
  } catch (err) {
    const out = (err as { stdout?: string }).stdout ?? '';
    throw new GatehouseError('GH_SIM_GATEWAY', `could not compile the gateway to benchmark it (tsc -p tsconfig.build.json): ${(out || (err as Error).message).trim().slice(0, 2000)}`, undefined, { cause: err });
  }
  const bin = join(outDir, 'gateway', 'cli', 'main.js');
  if (!existsSync(bin)) throw new GatehouseError('GH_SIM_GATEWAY', `the build left no ${bin}`);
  return { bin, kind: 'compiled' };
}

async function runTsc(tsc: string, args: string[]): Promise<void> {
  await promisify(execFile)(process.execPath, [tsc, ...args], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
}
