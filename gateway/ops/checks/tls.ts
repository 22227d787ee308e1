import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolveFromConfig } from '../../../config/secrets.js';
import { reasonOf, result, type CheckContext, type CheckResult } from './types.js';

const DAY_MS = 86_400_000;
/** Renew before this: a gateway without network for a few weeks must not wake up with an expired certificate. */
export const RENEW_BEFORE_DAYS = 30;

interface TlsSet {
  owner: string;
  ca?: string;
  cert?: string;
  key?: string;
}

function firstCertificate(pem: Buffer): X509Certificate {
  // A chain file holds the leaf first; X509Certificate parses the first PEM block.
  return new X509Certificate(pem);
}

/** TLS files the config names are readable, parse, match their key and are not (nearly) expired. */
export function checkTls(ctx: CheckContext): CheckResult[] {
  const { broker, central } = ctx.loaded.config;
  const sets: TlsSet[] = [];
  if (broker?.tls) sets.push({ owner: 'broker.tls', cert: broker.tls.cert, key: broker.tls.key });
  if (central?.tls) {
    const s: TlsSet = { owner: 'central.tls' };
    if (central.tls.ca) s.ca = central.tls.ca;
    if (central.tls.cert) s.cert = central.tls.cert;
    if (central.tls.key) s.key = central.tls.key;
    sets.push(s);
  }
  if (sets.length === 0) return [result('tls', 'skip', 'no TLS files configured')];
  const out: CheckResult[] = [];
  for (const set of sets) {
    const read = (field: 'ca' | 'cert' | 'key'): Buffer | undefined => {
      const rel = set[field];
      if (!rel) return undefined;
      const path = resolveFromConfig(ctx.loaded.baseDir, rel);
      try {
        return readFileSync(path);
      } catch (err) {
        out.push(result(`tls ${set.owner}.${field}`, 'fail', `${path} cannot be read: ${reasonOf(err)}`, `copy the file there and make it readable by the gatehouse user (chown gatehouse ${path}; chmod 0600 for keys)`));
        return undefined;
      }
    };
    const certPem = read('cert');
    const keyPem = read('key');
    const caPem = read('ca');
    for (const [field, pem] of [['ca', caPem], ['cert', certPem]] as const) {
      if (!pem) continue;
      const name = `tls ${set.owner}.${field}`;
      let cert: X509Certificate;
      try {
        cert = firstCertificate(pem);
      } catch (err) {
        out.push(result(name, 'fail', `not a PEM certificate: ${reasonOf(err)}`, 'the file must hold a PEM certificate (-----BEGIN CERTIFICATE-----)'));
        continue;
      }
      const validTo = Date.parse(cert.validTo);
      const validFrom = Date.parse(cert.validFrom);
      const daysLeft = Math.floor((validTo - ctx.now) / DAY_MS);
      const subject = cert.subject.replace(/\n/g, ', ');
      if (validTo <= ctx.now) {
        out.push(result(name, 'fail', `${subject} expired on ${new Date(validTo).toISOString()}`, 'issue a new certificate and restart the gateway'));
      } else if (validFrom > ctx.now) {
        out.push(result(name, 'fail', `${subject} is not valid before ${new Date(validFrom).toISOString()}`, 'the clock may be wrong (see the clock check) or the certificate was issued for the future'));
      } else if (daysLeft < RENEW_BEFORE_DAYS) {
        out.push(result(name, 'warn', `${subject} expires in ${daysLeft} days`, 'renew the certificate before it expires'));
      } else {
        out.push(result(name, 'ok', `${subject} valid for ${daysLeft} more days`));
      }
      if (field === 'cert' && keyPem) {
        try {
          const key = createPrivateKey(keyPem);
          if (!cert.checkPrivateKey(key)) out.push(result(`tls ${set.owner}.key`, 'fail', 'the private key does not belong to the certificate', 'install the key that was used to request this certificate'));
          else out.push(result(`tls ${set.owner}.key`, 'ok', 'private key matches the certificate'));
        } catch (err) {
          out.push(result(`tls ${set.owner}.key`, 'fail', `not a usable private key: ${reasonOf(err)}`, 'the file must hold an unencrypted PEM private key'));
        }
      }
    }
  }
  return out;
}
