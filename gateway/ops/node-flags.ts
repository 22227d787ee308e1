/**
 * Node/V8 flags the gateway process runs with in production: the systemd
 * unit (deploy/gatehouse.service), the Docker image (Dockerfile) and the venue
 * simulator's child gateway all use this list, so a benchmark measures what a
 * venue runs. test/ops/deploy.test.ts keeps the unit and the Dockerfile in step.
 *
 * Why these: at a stadium surge the gateway allocates fast but keeps little
 * (live heap ~60 MB), and V8's defaults size the heap for a desktop: young
 * generation semi-spaces of 16 MB and an old generation allowed to grow well
 * past the live set before a full GC. On a Pi that is memory for nothing.
 *   --max-semi-space-size=4   young generation 3 x 4 MB: shorter, more frequent scavenges
 *   --optimize-for-size       V8's memory-saving mode (smaller heap growth steps)
 * Measured with `gatehouse bench surge` (30-s runs, docs/benchmarks.md): peak
 * RSS 277-301 MB without them, 217 MB with them.
 * Not used: --max-old-space-size. With a 512 MB cap the gateway died mid-surge
 * in three runs of three (cause not found); systemd's MemoryMax is the ceiling instead.
 */
export const GATEWAY_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4', '--optimize-for-size'];

/** The flags to start a gateway child with; `GATEHOUSE_GATEWAY_NODE_FLAGS` (space-separated, may be empty) overrides them for experiments. */
export function gatewayNodeFlags(env: NodeJS.ProcessEnv = process.env): string[] {
  const override = env.GATEHOUSE_GATEWAY_NODE_FLAGS;
  if (override === undefined) return [...GATEWAY_NODE_FLAGS];
  return override.split(/\s+/).filter((f) => f !== '');
}
