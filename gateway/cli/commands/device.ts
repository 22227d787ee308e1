import type { Command } from 'commander';
import { stringify } from 'yaml';
import { idSchema } from '../../../config/common.js';
import { formatProblem, loadConfigFile } from '../../../config/load.js';
import { MQTT_DEVICE_TYPES, type MqttDeviceType } from '../../../drivers/mqtt/config.js';
import { generatePassword, hashPassword } from '../../../drivers/mqtt/password.js';
import { CliExit, EXIT_INVALID, EXIT_OK } from '../exit.js';

interface AddOptions {
  type?: string;
  config?: string;
  json?: boolean;
}

/**
 * `gatehouse device add NAME --type sign|kiosk|reader|app [--config FILE] [--json]`:
 * makes a random password for an MQTT device, prints it once with the config
 * snippet holding only its scrypt hash (docs/mqtt.md "Provisioning a device").
 */
export function register(program: Command): void {
  const device = program.command('device').description('provision MQTT devices (signs, kiosks, readers, apps) of the embedded broker');

  device
    .command('add')
    .description('generate credentials for an MQTT device: prints the password once and the config snippet with its scrypt hash')
    .argument('<name>', 'device id (a-z, 0-9, "_" and "-"): also its MQTT username and client id')
    .requiredOption('--type <type>', `device type: ${MQTT_DEVICE_TYPES.join(' | ')}`)
    .option('--config <file>', 'config file to check the id against (no file is changed) and take the gateway id from')
    .option('--json', 'print one JSON object { id, type, username, password, passwordHash, topicPrefix, yaml } for provisioning scripts')
    .action(async (name: string, opts: AddOptions) => {
      const usage = 'usage: gatehouse device add NAME --type sign|kiosk|reader|app [--config FILE] [--json]';
      if (!idSchema.safeParse(name).success) throw new CliExit(EXIT_INVALID, `GH_USAGE: device name "${name}" must be 1-63 characters of a-z, 0-9, "_" or "-", starting with a letter or digit\n${usage}`);
      if (!(MQTT_DEVICE_TYPES as readonly string[]).includes(opts.type ?? '')) throw new CliExit(EXIT_INVALID, `GH_USAGE: --type must be one of ${MQTT_DEVICE_TYPES.join(', ')}\n${usage}`);
      const type = opts.type as MqttDeviceType;

      let gatewayId = '<gateway>';
      if (opts.config !== undefined) {
        const loaded = loadConfigFile(opts.config);
        if (!loaded.ok) throw new CliExit(EXIT_INVALID, loaded.problems.map(formatProblem).join('\n'));
        gatewayId = loaded.value.config.gateway.id;
        if (loaded.value.config.devices.some((d) => d.id === name)) throw new CliExit(EXIT_INVALID, `GH_CONFIG_INVALID: ${opts.config}: a device "${name}" already exists in devices`);
      }

      const password = generatePassword();
      const passwordHash = await hashPassword(password);
      const entry = { id: name, driver: 'mqtt', type, passwordHash };
      const yaml = stringify([entry]);
      const topicPrefix = `gatehouse/${gatewayId}/${name}/`;
      if (opts.json) {
        process.stdout.write(JSON.stringify({ id: name, type, username: name, password, passwordHash, topicPrefix, yaml }, null, 2) + '\n');
      } else {
        process.stdout.write(
          [
            `# Paste under "devices:" in the gateway config (only the hash is stored there):`,
            yaml.trimEnd(),
            '',
            `# Give these to the ${type} now; the password is not shown again and cannot be recovered from the hash:`,
            `#   username:  ${name}`,
            `#   client id: ${name}   (or ${name}:<suffix> for extra connections)`,
            `#   password:  ${password}`,
            `#   topics:    ${topicPrefix}…   (see docs/mqtt.md)`,
            '',
          ].join('\n'),
        );
      }
      throw new CliExit(EXIT_OK);
    });
}
