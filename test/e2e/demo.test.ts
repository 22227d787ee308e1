import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../gateway/core/log.js';
import { startDemo, type RunningDemo } from '../../scripts/demo/demo.js';
import { demoConfigForTest } from '../helpers/demo-config.js';
import type { CloudEvent } from '../../gateway/events/cloudevent.js';
import { hasSocat } from '../helpers/pty.js';

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the walking skeleton: reader -> decision -> outbox -> central', () => {
  let demo: RunningDemo | undefined;
  afterEach(async () => {
    await demo?.stop();
    demo = undefined;
  });

  it('delivers every granted and denied read to the central stand-in exactly once', async () => {
    const out = new PassThrough();
    let printed = '';
    out.on('data', (d: Buffer) => (printed += d.toString()));
    demo = await startDemo({ loaded: demoConfigForTest({ ratePerSecond: 20 }), out, log: silentLogger(), adminPort: 0, summaryEveryS: 0.5 });
    const gw = demo.gateway;

    // The downlink loads the signed snapshot, then members start getting in.
    await until(() => gw.store.status().loaded, 15_000, 'the entitlement snapshot');
    const decisions: Array<{ result: string; reason: string; laneId: string; holderRef?: string }> = [];
    gw.bus.on('decision', (d) => decisions.push({ result: d.result, reason: d.reason, laneId: d.laneId, ...(d.holderRef ? { holderRef: d.holderRef } : {}) }));
    await until(() => decisions.some((d) => d.result === 'granted') && decisions.some((d) => d.reason === 'blocked'), 15_000, 'granted and blocked decisions');
    // With socat, one lane is a simulated OSDP reader on a PTY pair: its cards are decided too.
    if (hasSocat()) {
      await until(() => decisions.some((d) => d.laneId === 'entrance-2' && d.result === 'granted'), 15_000, 'a granted read on the OSDP lane');
      await until(() => demo!.summary().osdpLedsShown > 0, 15_000, 'the OSDP reader to show a decision on its LED');
    }

    // Stop the readers, then let the uplink drain what the outbox holds.
    for (const driver of gw.drivers.values()) await driver.stop();
    const seen = decisions.length;
    // An append may still sit in its group-commit window: wait until every decision the
    // gateway counted has arrived, then check nothing arrived twice.
    const totalDecisions = Number((await gw.metrics.decisions.get()).values.reduce((s, v) => s + v.value, 0));
    const central = demo.central;
    const accessEvents = () => central.events().filter((e: CloudEvent) => e.type.startsWith('io.gatehouse.access.'));
    await until(() => {
      gw.uplink!.drainNow().catch(() => undefined);
      return accessEvents().length >= totalDecisions && gw.outbox.depth() === 0;
    }, 20_000, 'every access event at central');
    const access = accessEvents();
    const byType = (t: string) => access.filter((e) => e.type === t).length;
    // Every decision made while we listened is at central (earlier ones too: >=), and none twice.
    expect(decisions.length).toBe(seen);
    expect(byType('io.gatehouse.access.granted')).toBeGreaterThanOrEqual(decisions.filter((d) => d.result === 'granted').length);
    expect(byType('io.gatehouse.access.denied')).toBeGreaterThanOrEqual(decisions.filter((d) => d.result === 'denied').length);
    expect(new Set(access.map((e) => e.id)).size).toBe(access.length);
    expect(central.counts().duplicates).toBe(0);
    expect(access.length).toBe(totalDecisions);

    // CloudEvents 1.0 shape, with the holder as subject and the reason in data.
    const blocked = access.find((e) => (e.data as { reason?: string }).reason === 'blocked')!;
    expect(blocked).toMatchObject({ specversion: '1.0', type: 'io.gatehouse.access.denied', subject: 'h-6666', source: 'gatehouse://demo-gw/entrance-sim' });
    expect(Date.parse(blocked.time)).not.toBeNaN();

    // The health and metrics endpoints answer on the admin port.
    const health = await fetch(`${gw.admin.url}/healthz`);
    expect([200, 503]).toContain(health.status);
    const metrics = await (await fetch(`${gw.admin.url}/metrics`)).text();
    expect(metrics).toMatch(/gatehouse_decisions_total\{result="granted"/);
    expect(metrics).toMatch(/gatehouse_outbox_depth 0/);
    expect(printed).toMatch(/decisions\/s/);
    const summary = await demo.stop();
    expect(summary.duplicatesAtCentral).toBe(0);
  });
});
