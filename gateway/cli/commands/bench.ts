import type { Command } from 'commander';
import { CliExit, EXIT_INVALID } from '../exit.js';

type BenchRun = (options: Record<string, string | number | boolean>) => Promise<Record<string, unknown>>;

/** Benchmarks by name, loaded lazily (scripts/bench/<name>.ts); targets are in docs/benchmarks.md. */
const BENCHES: Record<string, { describe: string; load: () => Promise<BenchRun> }> = {
  access: { describe: 'access decisions against a store of N entitlements (--entitlements)', load: async () => (await import('../../../scripts/bench/access.js')).run },
  snapshot: { describe: 'apply a signed snapshot of N entitlements while deciding (--entitlements)', load: async () => (await import('../../../scripts/bench/snapshot.js')).run },
  outbox: { describe: 'durable outbox appends with group commit', load: async () => (await import('../../../scripts/bench/outbox.js')).run },
  readers: { describe: 'Wiegand/HID/serial reader decoding costs', load: async () => (await import('../../../scripts/bench/readers.js')).run },
  engagement: { describe: '5,000 phones in 50 zones: adverts/s, flaps, trigger latency to a sign over MQTT', load: async () => (await import('../../../scripts/bench/engagement.js')).run },
  osdp: { describe: 'OSDP readers on one bus over a PTY: card -> LED/OUT latency (--readers, --baud, --reads)', load: async () => (await import('../../../scripts/bench/osdp.js')).run },
  mqtt: { describe: '200 MQTT devices: scan -> decision and content delivery latency (--devices, --readers)', load: async () => (await import('../../../scripts/bench/mqtt.js')).run },
  surge: { describe: '60,000 entries in 60 s on the stadium twin over real transports (--entries, --seconds); about 3 minutes (a warm-up run, then hostile and clean runs; --pairs n repeats the pair)', load: async () => (await import('../../../scripts/bench/surge.js')).run },
  venue: { describe: 'three gateways, one Mosquitto: propagation, convergence after a partition, conflicts (--seconds)', load: async () => (await import('../../../scripts/bench/venue.js')).run },
  drain: { describe: 'drain a backlog of N events to the central stand-in (--events)', load: async () => (await import('../../../scripts/bench/drain.js')).run },
};

/** The set `gatehouse bench all` (and `npm run bench`) runs, with sizes that finish in minutes. */
const ALL: Array<[string, Record<string, number>]> = [
  ['access', { entitlements: 1_000_000 }],
  ['snapshot', { entitlements: 1_000_000 }],
  ['outbox', {}],
  ['drain', { events: 1_000_000 }],
  ['readers', {}],
  ['engagement', {}],
  ['mqtt', {}],
  ['osdp', { readers: 4, baud: 115200 }],
  ['osdp', { readers: 1, baud: 9600 }],
];

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new CliExit(EXIT_INVALID, `--${name} must be a positive whole number, got "${v}"`);
    return n;
  };
}

function nonNegativeInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new CliExit(EXIT_INVALID, `--${name} must be a whole number >= 0, got "${v}"`);
    return n;
  };
}

export function register(program: Command): void {
  program
    .command('bench')
    .description('run a benchmark and print its figures as JSON')
    .argument('<name>', `one of: all, ${Object.keys(BENCHES).join(', ')}`)
    .option('--json', 'print one JSON object (the default output; kept for scripts that pass it)')
    .option('--entitlements <n>', 'number of entitlements (access, snapshot)', positiveInt('entitlements'))
    .option('--events <n>', 'number of events (drain)', positiveInt('events'))
    .option('--readers <n>', 'number of simulated readers (osdp)', positiveInt('readers'))
    .option('--baud <n>', 'baud rate (osdp)', positiveInt('baud'))
    .option('--reads <n>', 'number of card reads (osdp)', positiveInt('reads'))
    .option('--devices <n>', 'number of simulated devices (mqtt)', positiveInt('devices'))
    .option('--entries <n>', 'number of entries (surge)', positiveInt('entries'))
    .option('--seconds <n>', 'length of the surge in seconds (surge)', positiveInt('seconds'))
    .option('--pairs <n>', 'hostile and clean runs this many times each, alternating; reports their lane p99 ratio with a 95 % interval (surge; about 2.5 minutes a pair)', positiveInt('pairs'))
    .option('--source', 'run the gateway from its TypeScript source through tsx, not compiled as production runs it (surge, snapshot)')
    .option('--realtime <priority>', 'the SCHED_RR priority of the deciding event loop, as gateway.realtimePriority sets it (snapshot; default 10, as provision writes)', positiveInt('realtime'))
    .option('--no-realtime', 'the deciding event loop at normal priority (snapshot)')
    .option('--in-process', "measure in the CLI's own process, with its Node flags, not in a child started as the gateway is (snapshot)")
    .option('--interval-ms <n>', 'decide every n ms while the snapshot loads; 0 = back to back (snapshot)', nonNegativeInt('interval-ms'))
    .action(async (name: string, opts: Record<string, string | number | boolean>) => {
      const { json: _json, ...options } = opts;
      if (name === 'all') {
        const results: Record<string, unknown> = {};
        for (const [bench, defaults] of ALL) {
          const entry = BENCHES[bench];
          if (!entry) continue;
          const key = bench in results ? `${bench}:${Object.values(defaults).join(':')}` : bench;
          results[key] = await (await entry.load())({ ...defaults, ...options });
        }
        process.stdout.write(JSON.stringify(results, null, 2) + '\n');
        return;
      }
      const entry = BENCHES[name];
      if (!entry) throw new CliExit(EXIT_INVALID, `unknown benchmark "${name}": one of all, ${Object.keys(BENCHES).join(', ')}`);
      const result = await (await entry.load())(options);
      process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    });
}
