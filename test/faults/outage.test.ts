import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/log.js';
import { eventFactory } from '../../gateway/events/cloudevent.js';
import { startCentralStandIn, type CentralStandIn } from '../../scripts/central/index.js';
import { openOutbox, type Outbox } from '../../sync/outbox/outbox.js';
import { httpTransport } from '../../sync/uplink/http.js';
import { createUplink, type Uplink, type UplinkStatus } from '../../sync/uplink/uplink.js';
import type { UplinkTransport } from '../../sync/uplink/transport.js';

/**
 * A day of a busy venue compressed into seconds: 100k events buffered while
 * the central side is down, then a recovery that must drain all of them.
 */
const EVENTS = 100_000;

describe('central down for a long outage', () => {
  let central: CentralStandIn;
  let dir: string;
  let outbox: Outbox;
  let transport: UplinkTransport;
  let uplink: Uplink;
  const statuses: UplinkStatus[] = [];

  beforeEach(async () => {
    central = await startCentralStandIn();
    dir = mkdtempSync(join(tmpdir(), 'gh-outage-'));
    const clock = systemClock({ assumeSynced: true });
    outbox = openOutbox({ path: join(dir, 'outbox.db'), maxBytes: 1e9, maxRows: 1e7, retentionHours: 24, groupCommitMs: 5, clock, log: silentLogger(), metrics: new Registry(), raiseAlarm: () => undefined });
    transport = httpTransport({ url: central.url, timeoutMs: 5000, gatewayId: 'gw1' });
    uplink = createUplink({ outbox, transport, batchSize: 1000, clock, log: silentLogger(), metrics: new Registry(), backoff: { baseMs: 20, capMs: 200 }, onStatus: (s) => statuses.push(s) });
  });
  afterEach(async () => {
    await uplink.stop();
    await transport.close();
    await outbox.close();
    await central.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`buffers ${EVENTS} events while central is unreachable, keeps the event loop responsive, and drains all of them after recovery`, async () => {
    await central.stop();
    uplink.start();
    const make = eventFactory('gw1');
    // The decision path's view: the event loop keeps turning while events pile up.
    let turns = 0;
    const ticker = setInterval(() => turns++, 5);
    for (let i = 0; i < EVENTS; i += 5000) {
      await Promise.all(Array.from({ length: 5000 }, (_, j) => outbox.append(make({ type: 'io.gatehouse.access.granted', origin: 'lane1', subject: `h${(i + j) % 500}`, data: { n: i + j } }), 'access')));
    }
    clearInterval(ticker);
    expect(turns).toBeGreaterThan(0);
    expect(outbox.depth()).toBe(EVENTS);
    expect(uplink.status()).toMatchObject({ connected: false, lastError: { code: 'GH_UPLINK_NETWORK' } });
    expect(uplink.status().lagMs).toBeGreaterThanOrEqual(0);

    await central.restart();
    const deadline = Date.now() + 90_000;
    while (outbox.depth() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(outbox.depth()).toBe(0);
    // Every batch failed before reaching the central side, so nothing was sent twice.
    expect(central.counts()).toMatchObject({ unique: EVENTS, duplicates: 0 });
    expect(statuses.at(-1)).toMatchObject({ connected: true });
  }, 180_000);
});
