import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { z } from 'zod';

const share = z.number().min(0).max(1);

/**
 * A simulation scenario (docs/simulator.md): how many people arrive, over what
 * curve, through which transports, with what mix of good and bad credentials,
 * and which hostile traffic runs alongside. The venue itself comes from the
 * gateway config (config/examples/stadium.yaml or the operator's own).
 */
export const scenarioSchema = z
  .strictObject({
    name: z.string().min(1).default('scenario'),
    /** Seeds the crowd: the same seed gives the same holders, credentials and arrival order. */
    seed: z.number().int().min(0).max(0xffffffff).default(1),
    /** Length of the arrival window (seconds). */
    durationS: z.number().positive().max(86_400).default(60),
    /** Credentials presented at entry lanes over the window (all outcomes included). */
    entries: z.number().int().positive().max(10_000_000).default(1000),
    /** Arrival curve: linear ramp to the peak rate, a flat peak, then a linear tail (shares of the window). */
    arrival: z
      .strictObject({
        rampUp: share.default(0.15),
        tail: share.default(0.15),
      })
      .refine((a) => a.rampUp + a.tail <= 1, { message: 'rampUp + tail must not exceed 1' })
      .prefault({}),
    /** Shares of presented credentials by outcome; the rest are valid holders entering. */
    mix: z
      .strictObject({
        expired: share.default(0.01),
        blocked: share.default(0.005),
        passback: share.default(0.01),
        unknown: share.default(0.01),
      })
      .refine((m) => m.expired + m.blocked + m.passback + m.unknown <= 1, { message: 'the bad-credential shares add up to more than 1' })
      .prefault({}),
    /** Clone the venue's entry devices and lanes this many times (a 40-lane surge from an 11-lane config). */
    replicate: z.number().int().min(1).max(64).default(1),
    /** Relative share of entries per lane, by transport (a Wiegand wire is slower than an MQTT scanner). */
    laneWeights: z
      .strictObject({ osdp: z.number().min(0).default(1), mqtt: z.number().min(0).default(1), wiegand: z.number().min(0).default(0.5), serial: z.number().min(0).default(1) })
      .prefault({}),
    /** Relative share of entries per lane, by the lane's zone (default 1; 0 sends nobody through that zone's lanes). */
    zoneWeights: z.record(z.string(), z.number().min(0)).default({}),
    /** Keep OSDP Secure Channel where the venue config uses it (keys are generated for the run). */
    osdpSecureChannel: z.boolean().default(true),
    /** Phones and wristbands near the venue's beacons: advertisements per second through the simulated radio, and app sightings per second over MQTT. */
    beacons: z.strictObject({ advertsPerSecond: z.number().min(0).default(20), appSightingsPerSecond: z.number().min(0).default(5) }).prefault({}),
    /** Kiosk interactions per second (spread over the venue's kiosks). */
    kiosks: z.strictObject({ interactionsPerSecond: z.number().min(0).default(2) }).prefault({}),
    /** Hostile traffic during the run (issue #10 "Bad input"). */
    hostile: z
      .strictObject({
        /** Garbage bytes per second written on one serial reader's line. */
        serialGarbagePerSecond: z.number().min(0).default(0),
        /** Malformed JSON publishes per second from one kiosk. */
        kioskMalformedPerSecond: z.number().min(0).default(0),
        /** One reader (OSDP) stops answering at this share of the window, and comes back `offlineForS` later. */
        readerOfflineAt: share.optional(),
        readerOfflineForS: z.number().positive().default(5),
        /** The central stand-in answers event batches with 503 from this share of the window, for `centralDownForS`. */
        centralDownAt: share.optional(),
        centralDownForS: z.number().positive().default(10),
      })
      .prefault({}),
    /**
     * Cards presented on the MQTT gates before the gates open (staff, early access), by holders
     * of their own, over `seconds`; then the outbox drains and the run starts. A venue's gateway
     * has been up and busy for hours when the crowd arrives; without this the run measures a
     * fresh process whose hot code V8 has not optimised yet. Not part of any figure.
     */
    preOpening: z.strictObject({ entries: z.number().int().min(0).max(100_000).default(0), seconds: z.number().positive().default(5) }).prefault({}),
    /** Longest wait after the window for the outbox to drain to central (seconds). */
    drainTimeoutS: z.number().positive().default(60),
  });

export type Scenario = z.infer<typeof scenarioSchema>;

export interface ScenarioProblem {
  path: string;
  message: string;
  line?: number;
  column?: number;
}

export type ScenarioResult = { ok: true; scenario: Scenario } | { ok: false; problems: ScenarioProblem[] };

/** Parses and validates scenario YAML text; problems name the key path and, when known, line and column. */
export function parseScenario(text: string): ScenarioResult {
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length > 0) {
    return { ok: false, problems: doc.errors.map((e) => ({ path: '', message: e.message, ...lineCol(text, e.pos[0]) })) };
  }
  const raw: unknown = doc.toJS() ?? {};
  const r = scenarioSchema.safeParse(raw);
  if (r.success) return { ok: true, scenario: r.data };
  return {
    ok: false,
    problems: r.error.issues.map((issue) => {
      const node = doc.getIn(issue.path as Array<string | number>, true) as { range?: [number, number, number] } | undefined;
      const at = node && typeof node === 'object' && node.range ? lineCol(text, node.range[0]) : {};
      return { path: issue.path.join('.'), message: issue.message, ...at };
    }),
  };
}

/** Reads a scenario file; an unreadable file is one problem, not an exception. */
export function loadScenarioFile(file: string): ScenarioResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { ok: false, problems: [{ path: '', message: `cannot read ${file}: ${(err as Error).message}` }] };
  }
  return parseScenario(text);
}

export function formatScenarioProblem(file: string, p: ScenarioProblem): string {
  const where = p.line !== undefined ? `${file}:${p.line}:${p.column ?? 1}` : file;
  return `${where}: ${p.path ? `${p.path}: ` : ''}${p.message} (GH_SIM_SCENARIO_INVALID)`;
}

function lineCol(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}
