import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { configJsonSchema } from '../../config/schema.js';
import { GatehouseError } from '../errors.js';

/** First characters of every placeholder secret: `gatehouse doctor` refuses a token that still starts with it. */
export const PLACEHOLDER_PREFIX = 'REPLACE_ME';

export interface ProvisionOptions {
  gatewayId: string;
  /** Directory that receives gatehouse.yaml and secrets/ (created when missing). */
  outDir: string;
  /** Overwrite existing files (secrets included). */
  force?: boolean;
  /** URL of the central API; without it the `central:` section is written commented out. */
  centralUrl?: string;
  /** Data directory written into the config (default /var/lib/gatehouse, the systemd StateDirectory). */
  dataDir?: string;
  /** Source of randomness (tests); defaults to node:crypto randomBytes. */
  random?: (bytes: number) => Buffer;
}

export interface ProvisionedFile {
  path: string;
  mode: number;
  kind: 'secret' | 'placeholder' | 'config';
}

export interface ProvisionResult {
  configFile: string;
  schemaFile: string;
  secretsDir: string;
  files: ProvisionedFile[];
}

const SECRET_FILE_MODE = 0o600;
const SECRETS_DIR_MODE = 0o700;
const CONFIG_FILE_MODE = 0o640;
const GATEWAY_ID = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/**
 * Creates a gateway's starting kit: a credential-hashing key, a central token
 * placeholder and a config file from the template. Checks every target before
 * writing any, so a refused run leaves the directory as it was.
 */
export function provisionGateway(options: ProvisionOptions): ProvisionResult {
  if (!GATEWAY_ID.test(options.gatewayId)) {
    throw new GatehouseError('GH_USAGE', `gateway id "${options.gatewayId}" must be 1-63 characters of a-z, 0-9, "_" or "-", starting with a letter or digit`);
  }
  if (options.centralUrl !== undefined && !isHttpUrl(options.centralUrl)) {
    throw new GatehouseError('GH_USAGE', `central URL "${options.centralUrl}" must be an http:// or https:// URL`);
  }
  const outDir = resolve(options.outDir);
  const secretsDir = join(outDir, 'secrets');
  const random = options.random ?? randomBytes;
  const planned: Array<ProvisionedFile & { content: string }> = [
    { path: join(secretsDir, 'credential.key'), mode: SECRET_FILE_MODE, kind: 'secret', content: random(32).toString('hex') + '\n' },
    { path: join(secretsDir, 'central.token'), mode: SECRET_FILE_MODE, kind: 'placeholder', content: centralTokenPlaceholder(options.gatewayId) },
    { path: join(outDir, 'gatehouse.yaml'), mode: CONFIG_FILE_MODE, kind: 'config', content: configTemplate(options) },
  ];
  // Written beside the config so editors validate it offline (the yaml-language-server line points here).
  const schemaFile = join(outDir, 'gatehouse.schema.json');
  const schemaText = JSON.stringify(configJsonSchema(), null, 2) + '\n';
  if (!options.force) {
    const existing = planned.filter((f) => existsSync(f.path)).map((f) => f.path);
    if (existing.length > 0) {
      throw new GatehouseError('GH_PROVISION_EXISTS', `refusing to overwrite ${existing.join(', ')} (use --force to replace them; the old credential key is then lost and stored entitlements must be re-synced)`, { files: existing });
    }
  }
  mkdirSync(outDir, { recursive: true });
  mkdirSync(secretsDir, { recursive: true, mode: SECRETS_DIR_MODE });
  // mkdir honours the umask and leaves an existing directory as it was: set the mode explicitly.
  chmodSync(secretsDir, SECRETS_DIR_MODE);
  for (const f of planned) {
    writeFileSync(f.path, f.content, { mode: f.mode, flag: options.force ? 'w' : 'wx' });
    chmodSync(f.path, f.mode);
  }
  // The schema is not a secret and is regenerated on every run: always (over)written.
  writeFileSync(schemaFile, schemaText, { mode: CONFIG_FILE_MODE });
  return { configFile: join(outDir, 'gatehouse.yaml'), schemaFile, secretsDir, files: planned.map(({ path, mode, kind }) => ({ path, mode, kind })) };
}

function isHttpUrl(text: string): boolean {
  try {
    const u = new URL(text);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

/** True when a secret file still holds the text `gatehouse provision` wrote as a placeholder. */
export function isPlaceholderSecret(text: string): boolean {
  return text.trimStart().startsWith(PLACEHOLDER_PREFIX);
}

function centralTokenPlaceholder(gatewayId: string): string {
  return `${PLACEHOLDER_PREFIX}: bearer token of gateway ${gatewayId} for the central API. Replace this whole line with the token issued by the central team (docs/provisioning.md).\n`;
}

/** The config file a new gateway starts from: valid as written, with the usual next steps as comments. */
export function configTemplate(options: Pick<ProvisionOptions, 'gatewayId' | 'centralUrl' | 'dataDir'>): string {
  const central = options.centralUrl
    ? [
        'central:',
        `  url: ${JSON.stringify(options.centralUrl)}`,
        '  token: { file: secrets/central.token }',
        '  # Ed25519 public key that signs entitlement snapshots; ask the central team for it.',
        '  # publicKey: { file: secrets/central.pub.pem }',
      ]
    : [
        '# The central CRM API. Uncomment and set the URL (or re-run provision with --central-url).',
        '# central:',
        '#   url: "https://central.example.com"',
        '#   token: { file: secrets/central.token }',
        '#   publicKey: { file: secrets/central.pub.pem }',
      ];
  return [
    '# yaml-language-server: $schema=./gatehouse.schema.json',
    `# Gateway ${options.gatewayId}, written by \`gatehouse provision\`.`,
    '# Check it with `gatehouse config validate gatehouse.yaml` and `gatehouse doctor --config gatehouse.yaml`.',
    'gateway:',
    `  id: ${options.gatewayId}`,
    '  timezone: UTC',
    '  # The event loop, which decides at the gate, runs under SCHED_RR (the systemd unit allows up to 10; docs/deploy.md).',
    '  realtimePriority: 10',
    '',
    'storage:',
    '  # Everything the gateway writes lives here (systemd StateDirectory=gatehouse).',
    `  dataDir: ${JSON.stringify(options.dataDir ?? '/var/lib/gatehouse')}`,
    '',
    'secrets:',
    '  credentialKey: { file: secrets/credential.key }',
    '',
    ...central,
    '',
    'admin:',
    '  host: 127.0.0.1',
    '  port: 9464',
    '',
    '# One entry per reader, sign, kiosk or radio (docs/config.md). MQTT devices:',
    '#   gatehouse device add NAME --type sign|kiosk|reader',
    'devices: []',
    '',
    'zones:',
    '  - id: main',
    '    name: Main area',
    '',
    'lanes: []',
    '',
  ].join('\n');
}
