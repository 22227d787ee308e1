import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Registry } from 'prom-client';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/log.js';
import { eventFactory } from '../../gateway/events/cloudevent.js';
import { startCentralStandIn, type CentralFault, type CentralStandIn } from '../../scripts/central/index.js';
import { openOutbox, type Outbox } from '../../sync/outbox/outbox.js';
import { httpTransport } from '../../sync/uplink/http.js';
import { createUplink, type Uplink } from '../../sync/uplink/uplink.js';
import type { UplinkTransport } from '../../sync/uplink/transport.js';

describe('HTTP uplink against the central stand-in', () => {
  let central: CentralStandIn;
  let dir: string;
  let outbox: Outbox;
  let transport: UplinkTransport;
  let uplink: Uplink;
  const clock = systemClock({ assumeSynced: true });
  const make = eventFactory('gw1');

  beforeEach(async () => {
    central = await startCentralStandIn({ token: 'secret' });
    dir = mkdtempSync(join(tmpdir(), 'gh-uplink-http-'));
    outbox = openOutbox({ path: join(dir, 'outbox.db'), maxBytes: 1e8, maxRows: 1e6, retentionHours: 1, groupCommitMs: 2, clock, log: silentLogger(), metrics: new Registry(), raiseAlarm: () => undefined });
    transport = httpTransport({ url: central.url, token: 'secret', timeoutMs: 1000, gatewayId: 'gw1' });
    uplink = createUplink({ outbox, transport, batchSize: 50, clock, log: silentLogger(), metrics: new Registry(), backoff: { baseMs: 10, capMs: 50 } });
  });
  afterEach(async () => {
    await uplink.stop();
    await transport.close();
    await outbox.close();
    await central.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const appendMany = (n: number, holders = 5) =>
    Promise.all(Array.from({ length: n }, (_, i) => outbox.append(make({ type: 'io.gatehouse.access.granted', origin: 'lane1', subject: `holder-${i % holders}`, data: { i } }), 'access')));

  const drainThroughFaults = async () => {
    for (let i = 0; i < 200 && outbox.depth() > 0; i++) await uplink.drainNow().catch(() => undefined);
  };

  it('delivers gzip batches with a bearer token; the central side holds every event once, in order per holder', async () => {
    await appendMany(230);
    await uplink.drainNow();
    expect(central.counts()).toMatchObject({ unique: 230, duplicates: 0, batches: 5 });
    const byHolder = new Map<string, number[]>();
    for (const e of central.events()) byHolder.set(e.subject!, [...(byHolder.get(e.subject!) ?? []), (e.data as { i: number }).i]);
    for (const seq of byHolder.values()) expect(seq).toEqual([...seq].sort((a, b) => a - b));
    expect(outbox.depth()).toBe(0);
  });

  const faults: Array<[string, CentralFault]> = [
    ['refused connections', { kind: 'refuse', times: 3 }],
    ['500 answers', { kind: 'status', status: 500, times: 3 }],
    ['slow answers past the timeout', { kind: 'slow', ms: 1500, times: 2 }],
    ['connections dropped mid-body', { kind: 'drop_mid_body', times: 3 }],
    ['lost acknowledgements', { kind: 'lose_ack', times: 3 }],
    ['duplicate acknowledgements', { kind: 'duplicate_ack', times: 3 }],
  ];
  for (const [name, fault] of faults) {
    it(`loses nothing through ${name}, and resends at most the batches the fault hit`, async () => {
      await appendMany(200);
      central.setFault(fault);
      await drainThroughFaults();
      central.setFault(null);
      await drainThroughFaults();
      expect(central.counts().unique).toBe(200);
      // Each faulty attempt can make the central side see at most one 50-event batch again.
      expect(central.counts().duplicates).toBeLessThanOrEqual((fault.times ?? 0) * 50);
      expect(outbox.depth()).toBe(0);
    });
  }

  it('retries a 503 and reports the error in status until the central side is back', async () => {
    await appendMany(10);
    central.setFault({ kind: 'status', status: 503, retryAfterS: 0 });
    await expect(uplink.drainNow()).rejects.toMatchObject({ code: 'GH_UPLINK_HTTP' });
    expect(uplink.status()).toMatchObject({ connected: true, lastError: { code: 'GH_UPLINK_HTTP' } });
    central.setFault(null);
    await uplink.drainNow();
    expect(uplink.status().lastError).toBeUndefined();
  });

  it('dead-letters a batch refused with 401 as GH_UPLINK_AUTH; after the token is fixed a requeue delivers it exactly once', async () => {
    const wrong = httpTransport({ url: central.url, token: 'nope', timeoutMs: 1000, gatewayId: 'gw1' });
    const up = createUplink({ outbox, transport: wrong, batchSize: 50, clock, log: silentLogger(), metrics: new Registry() });
    await appendMany(3);
    const ids = outbox.peek(3).map((r) => r.id);
    await expect(up.drainNow()).rejects.toMatchObject({ code: 'GH_UPLINK_AUTH' });
    expect(outbox.depth()).toBe(0);
    expect(outbox.deadLetters()).toEqual(ids.map((id) => expect.objectContaining({ id, code: 'GH_UPLINK_AUTH', reason: expect.stringMatching(/^HTTP 401/) })));
    expect(up.status()).toMatchObject({ lastError: { code: 'GH_UPLINK_AUTH' }, setupProblem: { status: 401, deadLettered: 3 } });
    await wrong.close();

    expect(outbox.requeue({ code: 'GH_UPLINK_AUTH' })).toEqual({ requeued: 3, left: 0 });
    await uplink.drainNow();
    expect(central.events().map((e) => e.id)).toEqual(ids);
    expect(central.counts()).toMatchObject({ unique: 3, duplicates: 0 });
  });

  it('survives a stop and restart of the central side while running on its own', async () => {
    uplink.start();
    await appendMany(50);
    await central.stop();
    await appendMany(50);
    await new Promise((r) => setTimeout(r, 300));
    await central.restart();
    const deadline = Date.now() + 15_000;
    while (central.counts().unique < 100 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(central.counts().unique).toBe(100);
  });
});

describe('central stand-in API', () => {
  let central: CentralStandIn;
  beforeEach(async () => {
    central = await startCentralStandIn({});
  });
  afterEach(async () => {
    await central.close();
  });
  const post = (body: Buffer | string, headers: Record<string, string>) =>
    request(`${central.url}/v1/gateways/gw1/events`, { method: 'POST', body, headers: { 'content-type': 'application/cloudevents-batch+json', ...headers } });

  it('answers an idempotency key it has seen with the same acknowledgement, and counts redelivered ids as duplicates', async () => {
    const batch = JSON.stringify([{ specversion: '1.0', id: 'a' }, { specversion: '1.0', id: 'b' }]);
    const first = await post(gzipSync(batch), { 'content-encoding': 'gzip', 'idempotency-key': 'k1' });
    const firstBody = await first.body.json();
    const again = await post(batch, { 'idempotency-key': 'k1' });
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(await again.body.json()).toEqual(firstBody);
    expect(central.counts()).toEqual({ received: 4, unique: 2, duplicates: 2, batches: 2 });
  });

  it('tells onEvent of each new event as it is stored, never of a duplicate; keepEvents false keeps none', async () => {
    await central.close();
    const stored: string[] = [];
    central = await startCentralStandIn({ keepEvents: false, onEvent: (e) => stored.push(e.id) });
    await post(JSON.stringify([{ specversion: '1.0', id: 'a' }, { specversion: '1.0', id: 'b' }, { specversion: '1.0', id: 'a' }]), {});
    await post(JSON.stringify([{ specversion: '1.0', id: 'b' }, { specversion: '1.0', id: 'c' }]), {});
    expect(stored).toEqual(['a', 'b', 'c']);
    expect(central.counts()).toMatchObject({ unique: 3, duplicates: 2 });
    expect(central.events()).toEqual([]);
  });

  it('refuses bodies that are not CloudEvents batches with 4xx', async () => {
    expect((await post('{"not":"a batch"}', {})).statusCode).toBe(400);
    expect((await post('garbage', { 'content-encoding': 'gzip' })).statusCode).toBe(400);
    const wrongType = await request(`${central.url}/v1/gateways/gw1/events`, { method: 'POST', body: '[]', headers: { 'content-type': 'text/plain' } });
    expect(wrongType.statusCode).toBe(415);
    expect((await request(`${central.url}/nope`)).statusCode).toBe(404);
    expect(central.counts().batches).toBe(0);
  });
});
