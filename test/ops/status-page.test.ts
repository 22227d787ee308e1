import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startAdminServer, type AdminServer } from '../../gateway/app/admin-server.js';
import { silentLogger } from '../../gateway/core/log.js';
import { Health } from '../../gateway/health/health.js';
import { statusRoutes } from '../../gateway/ops/status-page.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`skipping status page browser tests: ${CHROMIUM} (Debian package chromium) is not installed`);

/** Debian's chromium in headless mode with a fresh profile; no network beyond the test's own server. */
async function launchChromium(): Promise<{ context: BrowserContext; userDataDir: string }> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'gh-chromium-'));
  // playwright passes the fresh profile directory as --user-data-dir itself.
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
    timeout: 60_000,
  });
  return { context, userDataDir };
}

const MINUTE = 60_000;
const DOCS_SCREENSHOT = fileURLToPath(new URL('../../docs/status-page.png', import.meta.url));

/** A status JSON in the shape of GatewayStatus, owned and mutated by this test. */
function fakeStatus(now: number) {
  const minute0 = Math.floor(now / MINUTE) * MINUTE;
  return {
    gateway: { id: 'north-gw', name: 'North stand', venue: 'stadium', version: '9.8.7', startedAt: new Date(now - 3 * 3600_000).toISOString(), clockSynced: true },
    health: { status: 'ok', failing: [] as unknown[], warnings: [] as unknown[] },
    devices: [
      { deviceId: 'turnstile-1', state: 'online', at: now - 5000, lastSeen: now - 5000 },
      { deviceId: 'osdp-bus', reader: '2', state: 'online', at: now - 1000, lastSeen: now - 1000 },
    ] as Array<{ deviceId: string; reader?: string; state: string; reason?: string; at: number; lastSeen?: number }>,
    lanes: {
      'gate-a': [
        { at: now - 2000, result: 'granted', reason: 'ok', holderRef: 'h_7f3a' },
        { at: now - 9000, result: 'denied', reason: 'expired', holderRef: 'h_19c2' },
      ],
      'gate-b': [{ at: now - 4000, result: 'denied', reason: 'unknown_credential' }],
    },
    decisionsPerMinute: [0, 1, 2, 3, 4].map((i) => ({ minute: new Date(minute0 - (4 - i) * MINUTE).toISOString(), granted: 10 + i * 3, denied: i })),
    outbox: { depth: 1234 },
    sync: { lastSuccessAt: now - 7000, deadLetters: 0, connected: true },
    entitlements: { loaded: true, holders: 4200, appliedAt: now - 600_000 },
    venueLink: { connected: true, verified: true, seq: 42, peers: { 'south-gw': { seq: 40 }, 'east-gw': { seq: 17 } }, conflictsReported: 1 },
    alarms: [] as Array<{ kind: string; source: string; message: string; at: number; active: boolean }>,
  };
}

describe.skipIf(!hasChromium)('status page in a real browser (fake status JSON behind the real admin server)', () => {
  let admin: AdminServer | undefined;
  let context: BrowserContext | undefined;
  let userDataDir: string | undefined;
  let status = fakeStatus(Date.now());

  beforeAll(async () => {
    ({ context, userDataDir } = await launchChromium());
  }, 90_000);
  afterAll(async () => {
    await context?.close();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });
  afterEach(async () => {
    await admin?.close();
    admin = undefined;
  });

  async function startAdmin(token?: string): Promise<AdminServer> {
    admin = await startAdminServer({ host: '127.0.0.1', port: 0, registry: new Registry(), health: new Health(), status: () => status, routes: statusRoutes(), log: silentLogger(), ...(token ? { token } : {}) });
    return admin;
  }

  async function openPage(url: string): Promise<Page> {
    const page = await context!.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    await page.waitForSelector('[data-testid="live"].ok', { timeout: 20_000 });
    expect(errors).toEqual([]);
    return page;
  }

  it('renders identity, devices, lane decisions, sync and the per-minute chart from /api/status', async () => {
    status = fakeStatus(Date.now());
    const a = await startAdmin();
    const page = await openPage(`${a.url}/status`);
    expect(await page.textContent('[data-testid="gateway-id"]')).toBe('north-gw');
    expect(await page.textContent('h1')).toBe('North stand');
    expect(await page.textContent('#gw-version')).toBe('9.8.7');
    expect(await page.getAttribute('tr[data-device="turnstile-1"]', 'data-state')).toBe('online');
    expect(await page.getAttribute('tr[data-device="osdp-bus/2"]', 'data-state')).toBe('online');
    const laneA = await page.textContent('[data-lane="gate-a"]');
    expect(laneA).toContain('h_7f3a');
    expect(laneA).toContain('expired');
    expect(await page.textContent('[data-testid="outbox-depth"]')).toBe('1234');
    expect(await page.textContent('[data-testid="sync-last"]')).toMatch(/s ago/);
    expect(await page.textContent('[data-testid="venue-link"]')).toBe('verified with 2 peers, 1 conflicts reported');
    expect(await page.locator('[data-testid="chart"] svg rect.g').count()).toBe(5);
    expect(await page.textContent('[data-testid="alarms"]')).toContain('No active alarms');
    await page.close();
  });

  it('shows an alarm within a poll when a reader goes offline, and clears it when it is back', async () => {
    status = fakeStatus(Date.now());
    const a = await startAdmin();
    const page = await openPage(a.url + '/');
    const now = Date.now();
    status.devices[0] = { deviceId: 'turnstile-1', state: 'offline', reason: 'no reply for 3 polls', at: now, lastSeen: now - 4000 };
    const alarm = page.locator('[data-testid="alarms"] li[data-kind="reader_offline"][data-source="turnstile-1"]');
    await alarm.waitFor({ timeout: 20_000 });
    expect(await alarm.textContent()).toContain('no reply for 3 polls');
    expect(await page.getAttribute('tr[data-device="turnstile-1"]', 'data-state')).toBe('offline');
    expect(await page.textContent('#health')).toMatch(/1 alarm/);

    status.alarms.push({ kind: 'door_forced', source: 'door-3', message: 'door opened without a grant', at: now, active: true });
    await page.locator('li[data-kind="door_forced"]').waitFor({ timeout: 20_000 });
    // docs/status-page.png is refreshed on request only, so a test run never dirties the tree.
    if (process.env.GATEHOUSE_UPDATE_SCREENSHOT === '1') await page.screenshot({ path: DOCS_SCREENSHOT, fullPage: true });

    status.devices[0] = { deviceId: 'turnstile-1', state: 'online', at: Date.now(), lastSeen: Date.now() };
    status.alarms = [];
    await page.locator('[data-testid="alarms"] li.none').waitFor({ timeout: 20_000 });
    await page.close();
  });

  it('with an admin token the page is refused without it and works with ?token=', async () => {
    status = fakeStatus(Date.now());
    const a = await startAdmin('s3cret-token');
    const page = await context!.newPage();
    const denied = await page.goto(a.url + '/');
    expect(denied?.status()).toBe(401);
    await page.close();
    const ok = await openPage(a.url + '/?token=s3cret-token');
    expect(await ok.textContent('[data-testid="gateway-id"]')).toBe('north-gw');
    await ok.close();
  });

  it('says the data is stale when the gateway stops answering', async () => {
    status = fakeStatus(Date.now());
    const a = await startAdmin();
    const page = await openPage(a.url + '/');
    await a.close();
    admin = undefined;
    await page.locator('[data-testid="live"].fail').waitFor({ timeout: 20_000 });
    expect(await page.textContent('[data-testid="live"]')).toMatch(/stale/);
    await page.close();
  });
});
