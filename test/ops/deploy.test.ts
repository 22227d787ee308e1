import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { GATEWAY_ENV, GATEWAY_NODE_FLAGS, gatewayEnv, gatewayNodeFlags } from '../../gateway/ops/node-flags.js';

const deployFile = (name: string) => fileURLToPath(new URL(`../../deploy/${name}`, import.meta.url));

/** `Key=value` lines of one section of a systemd unit (later lines win, as in systemd for these keys). */
function unitSection(text: string, section: string): Map<string, string> {
  const out = new Map<string, string>();
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = header[1] ?? '';
      continue;
    }
    const eq = line.indexOf('=');
    if (current === section && eq > 0) out.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return out;
}

describe('deploy/gatehouse.service', () => {
  const unit = readFileSync(deployFile('gatehouse.service'), 'utf8');
  const service = unitSection(unit, 'Service');

  it('is supervised: notify with a watchdog, restarted on failure but not for a bad config', () => {
    expect(service.get('Type')).toBe('notify');
    expect(service.get('NotifyAccess')).toBe('all');
    expect(service.get('WatchdogSec')).toMatch(/^\d+s$/);
    expect(service.get('Restart')).toBe('on-failure');
    expect(service.get('RestartPreventExitStatus')).toBe('2');
    expect(service.get('ExecStart')).toContain('gatehouse.js run --config /etc/gatehouse/gatehouse.yaml');
  });

  it('starts Node with the production flags and environment the simulator measures (gateway/ops/node-flags.ts)', () => {
    expect(service.get('ExecStart')).toBe(`/usr/bin/node ${GATEWAY_NODE_FLAGS.join(' ')} /opt/gatehouse/bin/gatehouse.js run --config /etc/gatehouse/gatehouse.yaml`);
    const environment = [...unit.matchAll(/^Environment=(\S+?)=(.*)$/gm)].map((m) => [m[1], m[2]]);
    for (const [name, value] of Object.entries(GATEWAY_ENV)) expect(environment).toContainEqual([name, value]);
  });

  it('runs unprivileged with a writable data directory only and no capabilities', () => {
    expect(service.get('User')).toBe('gatehouse');
    expect(service.get('SupplementaryGroups')).toBe('dialout gpio');
    expect(service.get('StateDirectory')).toBe('gatehouse');
    expect(service.get('ProtectSystem')).toBe('strict');
    expect(service.get('ReadWritePaths')).toBe('/var/lib/gatehouse');
    expect(service.get('NoNewPrivileges')).toBe('yes');
    expect(service.get('PrivateTmp')).toBe('yes');
    expect(service.get('ProtectHome')).toBe('yes');
    expect(service.get('CapabilityBoundingSet')).toBe('');
    expect(service.get('AmbientCapabilities')).toBe('');
    // Any DeviceAllow= (ProtectClock adds one) would close /dev/ttyUSB*, /dev/hidraw* and /dev/gpiochip*.
    expect(service.has('DeviceAllow')).toBe(false);
    expect(service.has('ProtectClock')).toBe(false);
    expect(service.get('PrivateDevices')).toBe('no');
  });

  it('the BLE drop-in grants CAP_NET_RAW and nothing else', () => {
    const ble = unitSection(readFileSync(deployFile('ble.conf'), 'utf8'), 'Service');
    expect([...ble.entries()]).toEqual([
      ['CapabilityBoundingSet', 'CAP_NET_RAW'],
      ['AmbientCapabilities', 'CAP_NET_RAW'],
    ]);
  });

  it.skipIf(!existsSync('/usr/bin/systemd-analyze'))('passes systemd-analyze verify (needs systemd-analyze)', async () => {
    const result = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile('systemd-analyze', ['verify', deployFile('gatehouse.service')], (err, _stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stderr }));
    });
    // Missing /usr/bin/node or /opt/gatehouse on a build machine is not a unit error.
    const problems = result.stderr.split('\n').filter((l) => l.trim() !== '' && !/Command .* is not executable|No such file or directory|is not executable/.test(l));
    expect(problems).toEqual([]);
  });
});

describe('deploy/99-gatehouse.rules', () => {
  const rules = readFileSync(deployFile('99-gatehouse.rules'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));

  it('every rule is a list of KEY op "value" pairs udev understands', () => {
    const pair = /^[A-Z]+(\{[A-Za-z_]+\})?(==|!=|=|\+=|:=)"[^"]*"$/;
    for (const rule of rules) {
      for (const part of rule.split(/,\s*/)) expect(part, rule).toMatch(pair);
    }
  });

  it('gives serial adapters to dialout and hidraw readers to gatehouse, never world-writable', () => {
    expect(rules.filter((r) => r.includes('SUBSYSTEM=="tty"')).every((r) => r.includes('GROUP="dialout"'))).toBe(true);
    expect(rules.filter((r) => r.includes('KERNEL=="hidraw*"')).every((r) => r.includes('GROUP="gatehouse"'))).toBe(true);
    expect(rules.some((r) => r.includes('ATTRS{idVendor}=="0403"'))).toBe(true);
    expect(rules.every((r) => !/MODE="0?66[6-7]"|MODE="0?777"/.test(r))).toBe(true);
  });
});

describe('Node flags', () => {
  it('the Docker image starts Node with the same flags as the systemd unit', () => {
    const dockerfile = readFileSync(fileURLToPath(new URL('../../Dockerfile', import.meta.url)), 'utf8');
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)?.[1];
    expect(entrypoint).toBeDefined();
    expect(JSON.parse(entrypoint!)).toEqual(['/usr/bin/tini', '--', 'node', ...GATEWAY_NODE_FLAGS, '/opt/gatehouse/bin/gatehouse.js']);
    for (const [name, value] of Object.entries(GATEWAY_ENV)) expect(dockerfile).toMatch(new RegExp(`^ENV ${name}=${value}$`, 'm'));
  });

  it('give a gateway child the production environment unless the caller set it', () => {
    expect(gatewayEnv({ PATH: '/bin' })).toEqual({ ...GATEWAY_ENV, PATH: '/bin' });
    expect(gatewayEnv({ MALLOC_ARENA_MAX: '8' }).MALLOC_ARENA_MAX).toBe('8');
  });

  it('are the defaults for a gateway child, and an experiment can override them (empty = none)', () => {
    expect(gatewayNodeFlags({})).toEqual([...GATEWAY_NODE_FLAGS]);
    expect(gatewayNodeFlags({ GATEHOUSE_GATEWAY_NODE_FLAGS: '' })).toEqual([]);
    expect(gatewayNodeFlags({ GATEHOUSE_GATEWAY_NODE_FLAGS: ' --max-semi-space-size=8  --jitless ' })).toEqual(['--max-semi-space-size=8', '--jitless']);
  });

  it('are accepted by this Node', async () => {
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, [...GATEWAY_NODE_FLAGS, '-e', 'process.stdout.write("ok")'], (err, stdout) => (err ? reject(err) : resolve(stdout))),
    );
    expect(out).toBe('ok');
  });
});
