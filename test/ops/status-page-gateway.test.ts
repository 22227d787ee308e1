import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdminServer, type AdminServer } from '../../gateway/app/admin-server.js';
import { startGateway, type RunningGateway } from '../../gateway/app/gateway.js';
import { silentLogger } from '../../gateway/core/log.js';
import { statusRoutes } from '../../gateway/ops/status-page.js';
import { demoConfigForTest } from '../helpers/demo-config.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`skipping the status page test against a running gateway: ${CHROMIUM} (Debian package chromium) is not installed`);

describe.skipIf(!hasChromium)('status page of a running demo gateway in a real browser', () => {
  let gateway: RunningGateway | undefined;
  let pageServer: AdminServer | undefined;
  let context: BrowserContext | undefined;
  let userDataDir: string | undefined;
  let dataDir: string | undefined;
  let pageUrl = '';

  beforeAll(async () => {
    // The demo venue: three simulated readers; central is unreachable (port 0), so sync shows as not connected.
    const loaded = demoConfigForTest({ ratePerSecond: 3 });
    dataDir = loaded.dataDir;
    gateway = await startGateway(loaded, { adminPort: 0, log: silentLogger() });
    const own = await fetch(gateway.admin.url + '/').catch(() => undefined);
    if (own?.ok && (own.headers.get('content-type') ?? '').startsWith('text/html')) {
      pageUrl = gateway.admin.url + '/';
    } else {
      // Until the composition root serves statusRoutes() itself, serve the page over the gateway's own status.
      const g = gateway;
      pageServer = await startAdminServer({ host: '127.0.0.1', port: 0, registry: g.metrics.registry, health: g.health, status: () => g.status(), routes: statusRoutes(), log: silentLogger() });
      pageUrl = pageServer.url + '/';
    }
    userDataDir = mkdtempSync(join(tmpdir(), 'gh-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1280, height: 900 },
      timeout: 60_000,
    });
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await pageServer?.close();
    await gateway?.stop();
    for (const d of [userDataDir, dataDir]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it('shows the live gateway (identity, online readers, lane decisions) and an alarm when a reader goes offline', async () => {
    const page = await context!.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(pageUrl);
    await page.waitForSelector('[data-testid="live"].ok', { timeout: 30_000 });
    expect(await page.textContent('[data-testid="gateway-id"]')).toBe('demo-gw');
    for (const device of ['entrance-sim', 'exit-sim', 'gym-sim']) {
      await page.locator(`tr[data-device="${device}"][data-state="online"]`).waitFor({ timeout: 30_000 });
    }
    // The simulated readers present cards continuously: decisions appear on the lanes and in the chart.
    await page.locator('[data-lane="entrance-1"] tbody tr').first().waitFor({ timeout: 30_000 });
    // Attached, not visible: without a snapshot every demo decision is a denial, so the granted bar has zero height.
    await page.locator('[data-testid="chart"] svg rect[data-minute]').first().waitFor({ state: 'attached', timeout: 30_000 });
    expect(await page.textContent('[data-testid="outbox-depth"]')).toMatch(/^\d+$/);

    gateway!.bus.emit('device.status', { deviceId: 'gym-sim', state: 'offline', reason: 'simulated: reader cable cut', at: Date.now() });
    const alarm = page.locator('[data-testid="alarms"] li[data-source="gym-sim"]');
    await alarm.waitFor({ timeout: 30_000 });
    expect(await alarm.textContent()).toContain('reader cable cut');
    expect(await page.getAttribute('tr[data-device="gym-sim"]', 'data-state')).toBe('offline');
    expect(await page.getAttribute('tr[data-device="entrance-sim"]', 'data-state')).toBe('online');
    expect(errors).toEqual([]);
    await page.close();
  });
});
