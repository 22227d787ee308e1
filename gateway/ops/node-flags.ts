/**
 * Node/V8 flags and environment the gateway process runs with in production:
 * the systemd unit (deploy/gatehouse.service), the Docker image (Dockerfile)
 * and the venue simulator's child gateway all use these, so a benchmark
 * measures what a venue runs. test/ops/deploy.test.ts keeps them in step.
 *
 * Why: at a stadium surge the gateway allocates fast but keeps little (live
 * heap ~60 MB), and V8's defaults size the heap for a desktop. Measured with
 * `gatehouse bench surge` (docs/benchmarks.md, "Surge"):
 *   --max-semi-space-size=4    young generation 3 x 4 MB (V8's default: 16 MB
 *                              semi-spaces). What a scavenge copies is the
 *                              decisions' medium-lived objects (compiled
 *                              entitlements in the lookup cache, anti-passback
 *                              state) made since the last one, so its pause
 *                              grows with the semi-space: 9.7 ms mean at 16 MB,
 *                              4.3 at 4, 2.6 at 2 (the decisions alone, 1,000/s).
 *                              With the event loop under SCHED_RR
 *                              (gateway.realtimePriority), 3 alternated clean
 *                              surges, 4 MB against 8 MB: lane p99 37-44 ms
 *                              against 43-54, gateway CPU 79-82 % against
 *                              82-88 %, peak RSS 231-240 MB against 236-256;
 *                              `bench snapshot` max gap 5.3-7.5 ms in 3 runs
 *                              against 6.7-13.9 in 15 (docs/benchmarks.md,
 *                              tenth session).
 *                              Without SCHED_RR the sixth session had found
 *                              2 MB costlier than 8 MB (four times as many
 *                              scavenges: gateway CPU 77-87 % against 70-82 %).
 *   --heap-growing-percent=20  the old generation grows 20 % past the live set
 *                              before the next full GC (V8 lets it grow up to 4x)
 *   MALLOC_ARENA_MAX=2         glibc keeps 2 malloc arenas instead of 8 per core;
 *                              the threads (libuv's pool for zlib and fs, SQLite
 *                              helpers) otherwise each get one: ~16 MB of RSS
 * No flags: peak RSS ~400 MB. `--optimize-for-size` (used before) kept RSS at
 * 255-280 MB but made the event loop ~3x slower to answer (lane p99 71-111 ms
 * against 45-60 ms): its memory-reducing full GCs and smaller code cost CPU on
 * a loop that is already 80 % busy at 1,000 decisions/s.
 * Not used: --max-old-space-size. With a 512 MB cap the gateway died mid-surge
 * in three runs of three (cause not found); systemd's MemoryMax is the ceiling instead.
 */
export const GATEWAY_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4', '--heap-growing-percent=20'];

/** Environment the gateway process runs with (see GATEWAY_NODE_FLAGS). */
export const GATEWAY_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };

/** The environment to start a gateway child with: GATEWAY_ENV under whatever `env` already sets. */
export function gatewayEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...GATEWAY_ENV, ...env };
}

/** The flags to start a gateway child with; `GATEHOUSE_GATEWAY_NODE_FLAGS` (space-separated, may be empty) overrides them for experiments. */
export function gatewayNodeFlags(env: NodeJS.ProcessEnv = process.env): string[] {
  const override = env.GATEHOUSE_GATEWAY_NODE_FLAGS;
  if (override === undefined) return [...GATEWAY_NODE_FLAGS];
  return override.split(/\s+/).filter((f) => f !== '');
}
