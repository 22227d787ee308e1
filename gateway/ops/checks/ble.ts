import { reasonOf, result, type CheckContext, type CheckResult } from './types.js';

export interface BleDeps {
  /** Loads the BLE library and resolves to the adapter state (`poweredOn`, `unauthorized`, `unsupported`...); rejects when it cannot load. */
  adapterState?: () => Promise<string>;
}

const STATE_WAIT_MS = 3000;

interface NobleLike {
  state?: string;
  once(event: 'stateChange', listener: (state: string) => void): void;
  removeAllListeners?(event?: string): void;
}

async function nobleAdapterState(): Promise<string> {
  const mod = (await import('@abandonware/noble')) as unknown as { default?: NobleLike } & NobleLike;
  const noble = mod.default ?? mod;
  if (noble.state && noble.state !== 'unknown') return noble.state;
  return new Promise<string>((resolve) => {
    const timer = setTimeout(() => resolve('unknown'), STATE_WAIT_MS);
    noble.once('stateChange', (state) => {
      clearTimeout(timer);
      resolve(state);
    });
  });
}

const CAP_FIX = 'run as root or grant CAP_NET_RAW: install the systemd drop-in from docs/deploy.md ("BLE") or, outside systemd, setcap cap_net_raw+eip $(readlink -f $(which node))';

/** The Bluetooth radio can be opened, when a BLE device on the host radio is configured. */
export async function checkBle(ctx: CheckContext, deps: BleDeps = {}): Promise<CheckResult> {
  const radios = ctx.loaded.config.devices.filter((d) => d.driver === 'ble' && d.radio === 'noble').map((d) => d.id);
  if (radios.length === 0) return result('ble', 'skip', 'no BLE device on the host radio configured');
  let state: string;
  try {
    state = await (deps.adapterState ?? nobleAdapterState)();
  } catch (err) {
    const text = reasonOf(err);
    if (/EAFNOSUPPORT|Address family not supported/i.test(text)) {
      return result('ble', 'fail', `no Bluetooth socket support here (${text})`, 'this kernel or container has no Bluetooth: on a Pi enable it (remove dtoverlay=disable-bt from /boot/firmware/config.txt); in Docker use --net=host with /var/run/dbus or run on the host');
    }
    if (/EPERM|EACCES|permission/i.test(text)) return result('ble', 'fail', `no permission to open the Bluetooth adapter (${text})`, CAP_FIX);
    if (/Cannot find (module|package)|ERR_MODULE_NOT_FOUND/i.test(text)) {
      return result('ble', 'fail', `the BLE library is not installed (${text})`, 'install the optional dependency @abandonware/noble (needs bluez and libbluetooth-dev to build)');
    }
    return result('ble', 'fail', `the Bluetooth adapter cannot be opened: ${text}`, 'check `hciconfig` / `bluetoothctl show` and that bluetooth.service is running');
  }
  if (state === 'poweredOn') return result('ble', 'ok', `Bluetooth adapter powered on (for ${radios.join(', ')})`);
  if (state === 'unauthorized') return result('ble', 'fail', 'the Bluetooth adapter refused access (unauthorized)', CAP_FIX);
  if (state === 'poweredOff') return result('ble', 'fail', 'the Bluetooth adapter is powered off', 'rfkill unblock bluetooth && bluetoothctl power on');
  if (state === 'unsupported') return result('ble', 'fail', 'the Bluetooth adapter does not support BLE', 'use a Bluetooth 4.0+ adapter (the Pi 3/4/5 built-in radio works)');
  return result('ble', 'warn', `the Bluetooth adapter did not report a state (${state})`, 'check `bluetoothctl show` and `systemctl status bluetooth`');
}
