import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EntitlementChange, EntitlementRecord, EntitlementSink } from '../../gateway/access/model.js';
import { systemClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/log.js';
import type { Alarm } from '../../gateway/core/types.js';
import { isGatehouseError } from '../../gateway/errors.js';
import { startCentralStandIn, type CentralStandIn } from '../../scripts/central/index.js';
import { createDownlink, parseChange, type DownlinkOptions } from '../../sync/downlink/downlink.js';
import { parseEntitlementLine as parseRecord } from '../../gateway/access/entitlement.js';

/** An in-memory entitlement store that swaps a snapshot in only once it was read completely. */
function memorySink() {
  let holders = new Map<string, EntitlementRecord>();
  let cursor: string | undefined;
  const sink: EntitlementSink & { holders: () => Map<string, EntitlementRecord>; snapshots: number } = {
    snapshots: 0,
    holders: () => holders,
    async applySnapshot(records) {
      const next = new Map<string, EntitlementRecord>();
      let credentials = 0;
      for await (const r of records) {
        next.set(r.holder, r);
        credentials += r.credentials.length;
      }
      holders = next;
      sink.snapshots++;
      return { holders: next.size, credentials };
    },
    applyChanges(changes: EntitlementChange[], c: string) {
      for (const ch of changes) {
        if (ch.op === 'upsert') holders.set(ch.record.holder, ch.record);
        else if (ch.op === 'delete') holders.delete(ch.holder);
        else if (ch.op === 'block') holders.set(ch.holder, { ...holders.get(ch.holder)!, blocked: { reason: ch.reason } });
        else holders.set(ch.holder, { ...holders.get(ch.holder)!, consent: ch.consent });
      }
      cursor = c;
    },
    cursor: () => cursor,
  };
  return sink;
}

const rec = (i: number): EntitlementRecord => ({ holder: `h${i}`, credentials: [{ kind: 'card', value: String(1000 + i) }], zones: ['main'] });

describe('downlink against the central stand-in', () => {
  let central: CentralStandIn;
  let dir: string;
  let alarms: Alarm[];
  let sink: ReturnType<typeof memorySink>;

  beforeEach(async () => {
    central = await startCentralStandIn({ token: 't0k', entitlements: Array.from({ length: 50 }, (_, i) => rec(i)) });
    dir = mkdtempSync(join(tmpdir(), 'gh-downlink-'));
    alarms = [];
    sink = memorySink();
  });
  afterEach(async () => {
    await central.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const make = (over: Partial<DownlinkOptions> = {}) =>
    createDownlink({
      baseUrl: central.url,
      token: 't0k',
      publicKey: central.publicKey,
      sink,
      gatewayId: 'gw1',
      clock: systemClock({ assumeSynced: true }),
      log: silentLogger(),
      metrics: new Registry(),
      raiseAlarm: (a) => alarms.push(a),
      stagingDir: join(dir, 'staging'),
      pollTimeoutMs: 2000,
      backoff: { baseMs: 20, capMs: 100 },
      ...over,
    });

  it('applies a signed snapshot, stores its cursor, reports progress and leaves no staging file behind', async () => {
    const d = make();
    const phases = new Set<string>();
    const r = await d.pullSnapshot((p) => phases.add(p.phase));
    expect(r).toMatchObject({ holders: 50, credentials: 50 });
    expect(sink.holders().get('h7')).toEqual(rec(7));
    expect(sink.cursor()).toBe(r.cursor);
    expect([...phases].sort()).toEqual(['apply', 'download']);
    expect(readdirSync(join(dir, 'staging'))).toEqual([]);
    await d.stop();
  });

  for (const mode of ['bad_signature', 'unsigned', 'modified_body'] as const) {
    it(`rejects a ${mode} snapshot with GH_DOWNLINK_SIGNATURE and an alarm, keeping the current store`, async () => {
      const d = make();
      await d.pullSnapshot();
      const before = sink.holders();
      central.publishChange({ op: 'delete', holder: 'h1' });
      central.setFault({ kind: 'tamper', mode, times: 1 });
      const err = await d.pullSnapshot().catch((e: unknown) => e);
      expect(isGatehouseError(err, 'GH_DOWNLINK_SIGNATURE')).toBe(true);
      expect(sink.snapshots).toBe(1);
      expect(sink.holders()).toBe(before);
      expect(alarms).toEqual([expect.objectContaining({ kind: 'snapshot_rejected', code: 'GH_DOWNLINK_SIGNATURE', active: true })]);
      await d.pullSnapshot();
      expect(sink.holders().has('h1')).toBe(false);
      expect(alarms.at(-1)).toMatchObject({ kind: 'snapshot_rejected', active: false });
      await d.stop();
    });
  }

  it('rejects a snapshot signed by a key other than the configured one', async () => {
    const stranger = await startCentralStandIn({ entitlements: [rec(1)] });
    const d = make({ baseUrl: stranger.url });
    await expect(d.pullSnapshot()).rejects.toMatchObject({ code: 'GH_DOWNLINK_SIGNATURE' });
    expect(sink.cursor()).toBeUndefined();
    await d.stop();
    await stranger.close();
  });

  it('turns a refused request into GH_DOWNLINK_HTTP without touching the store', async () => {
    const d = make({ token: 'wrong' });
    await expect(d.pullSnapshot()).rejects.toMatchObject({ code: 'GH_DOWNLINK_HTTP' });
    expect(sink.snapshots).toBe(0);
    expect(alarms).toEqual([]);
    await d.stop();
  });

  it('long-polls the change feed and applies a revocation as soon as it is published', async () => {
    const d = make();
    await d.pullSnapshot();
    const round = d.pollChanges();
    setTimeout(() => central.publishChange({ op: 'block', holder: 'h3', reason: 'lost card' }), 100);
    expect(await round).toBe(1);
    expect(sink.holders().get('h3')?.blocked).toEqual({ reason: 'lost card' });
    await d.stop();
  });

  it('rejects a change feed response with a bad signature and keeps the cursor', async () => {
    const d = make();
    await d.pullSnapshot();
    const cursor = sink.cursor();
    central.publishChange({ op: 'delete', holder: 'h2' });
    central.setFault({ kind: 'tamper', mode: 'bad_signature', times: 1, scope: 'entitlements' });
    await expect(d.pollChanges()).rejects.toMatchObject({ code: 'GH_DOWNLINK_SIGNATURE' });
    expect(sink.cursor()).toBe(cursor);
    expect(sink.holders().has('h2')).toBe(true);
    expect(await d.pollChanges()).toBe(1);
    expect(sink.holders().has('h2')).toBe(false);
    await d.stop();
  });

  it('pulls a fresh snapshot when the central side no longer knows the cursor (410)', async () => {
    const d = make();
    await d.pullSnapshot();
    central.setEntitlements([rec(100)]);
    await d.pollChanges();
    expect([...sink.holders().keys()]).toEqual(['h100']);
    expect(sink.snapshots).toBe(2);
    await d.stop();
  });

  it('runs on its own: snapshot first, then consent changes arrive within seconds, and stops cleanly mid long-poll', async () => {
    const d = make();
    d.start();
    await waitFor(() => sink.cursor() !== undefined);
    central.publishChange({ op: 'consent', holder: 'h4', consent: { marketing: false } });
    await waitFor(() => sink.holders().get('h4')?.consent?.marketing === false);
    await d.stop();
  });

  it('keeps following the feed after the central side was down', async () => {
    const d = make();
    d.start();
    await waitFor(() => sink.cursor() !== undefined);
    await central.stop();
    await new Promise((r) => setTimeout(r, 200));
    await central.restart();
    central.publishChange({ op: 'delete', holder: 'h9' });
    await waitFor(() => !sink.holders().has('h9'));
    await d.stop();
  });
});

describe('downlink line parsers', () => {
  it('either return a value or throw GH_DOWNLINK_FORMAT for any input (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (line) => {
        for (const parse of [parseRecord, parseChange]) {
          try {
            parse(line, 1);
          } catch (e) {
            expect(isGatehouseError(e, 'GH_DOWNLINK_FORMAT')).toBe(true);
          }
        }
      }),
    );
  });

  it('accept the shapes of docs/sync.md and refuse near misses', () => {
    expect(parseRecord(JSON.stringify(rec(1)), 2)).toEqual(rec(1));
    expect(() => parseRecord('{"holder":"h","credentials":[{"kind":"iris","value":"x"}]}', 2)).toThrow(/line 2/);
    expect(parseChange('{"op":"delete","holder":"h"}', 3)).toEqual({ op: 'delete', holder: 'h' });
    expect(() => parseChange('{"op":"block","holder":"h"}', 3)).toThrow(/line 3/);
  });
});

async function waitFor(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
