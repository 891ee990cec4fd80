/**
 * Keys and certificates (`hearth doctor`): the signing key loads (federation/keys/key-files.ts); the
 * federation TLS certificate (configured, or the self-signed one a first start made) is within its
 * dates, not expiring within `EXPIRY_WARNING_DAYS`, matches its private key, and names the server.
 * Nothing is created: a missing key or certificate is what the first start makes.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeUnpaddedBase64 } from '../../core/base64.js';
import { parseServerName } from '../../core/identifiers.js';
import { loadOrCreateKeyring, SIGNING_KEY_FILE } from '../../federation/keys/key-files.js';
import { GENERATED_CERT_FILE, GENERATED_KEY_FILE } from '../../federation/transport/tls-certificate.js';
import type { Check, Finding } from './findings.js';

/** Let's Encrypt renews 30 days ahead; warn at three weeks so a failed renewal is noticed in time. */
export const EXPIRY_WARNING_DAYS = 21;
const DAY_MS = 86_400_000;

export const checkKeys: Check = async ({ config, running, now }) => {
  const findings: Finding[] = [];
  const serverName = running?.serverName ?? config.serverName;
  const keyFile = join(config.dataDir, SIGNING_KEY_FILE);
  if (!existsSync(keyFile)) {
    findings.push({ check: 'keys', level: 'info', message: `no signing key yet (${keyFile})`, fix: 'the first start (or hearth init) makes it' });
  } else {
    try {
      const keyring = loadOrCreateKeyring(config.dataDir, serverName);
      findings.push({ check: 'keys', level: 'ok', message: `signing key ${keyring.current.keyId} (${encodeUnpaddedBase64(keyring.current.publicKey)}) loads${keyring.old.length > 0 ? `; ${keyring.old.length} retired` : ''}` });
    } catch (err) {
      findings.push({
        check: 'keys',
        level: 'error',
        message: `the signing key does not load: ${(err as Error).message}`,
        fix: `restore ${SIGNING_KEY_FILE} from a backup (other servers know this key); only if none exists, move it aside and let the gateway make a new one`,
      });
    }
  }

  const fed = config.federation;
  if (!fed.tls) {
    findings.push({ check: 'tls', level: 'ok', message: 'federation TLS is off (federation.tls: false): a reverse proxy in front terminates it' });
    return findings;
  }
  const configured = fed.tlsCertificatePath !== '' || fed.tlsPrivateKeyPath !== '';
  const certFile = configured ? fed.tlsCertificatePath : join(config.dataDir, GENERATED_CERT_FILE);
  const keyPath = configured ? fed.tlsPrivateKeyPath : join(config.dataDir, GENERATED_KEY_FILE);
  if (!configured && !existsSync(certFile)) {
    findings.push({ check: 'tls', level: 'info', message: 'no federation TLS certificate yet', fix: 'the first start (or hearth init) makes a self-signed one; other servers want a CA-signed one in federation.tls_certificate_path' });
    return findings;
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(readFileSync(certFile));
  } catch (err) {
    findings.push({ check: 'tls', level: 'error', message: `the federation certificate ${certFile} does not load: ${(err as Error).message}`, fix: configured ? 'point federation.tls_certificate_path at the PEM certificate (fullchain.pem)' : `delete ${certFile} and ${keyPath}; the next start makes a new pair` });
    return findings;
  }
  const nowMs = now();
  const until = Date.parse(cert.validTo);
  const from = Date.parse(cert.validFrom);
  const renew = configured ? 'renew it (certbot renew) and restart the gateway' : `delete ${certFile} and ${keyPath}; the next start makes a new pair`;
  if (nowMs > until) {
    findings.push({ check: 'tls', level: 'error', message: `the federation certificate expired on ${new Date(until).toISOString()}: other servers refuse it`, fix: renew });
  } else if (nowMs < from) {
    findings.push({ check: 'tls', level: 'error', message: `the federation certificate is valid only from ${new Date(from).toISOString()} (is the clock wrong?)`, fix: 'check the clock first (see the clock finding)' });
  } else if (until - nowMs < EXPIRY_WARNING_DAYS * DAY_MS) {
    findings.push({ check: 'tls', level: 'warning', message: `the federation certificate expires on ${new Date(until).toISOString()}, in ${Math.floor((until - nowMs) / DAY_MS)} days`, fix: renew });
  } else {
    findings.push({ check: 'tls', level: 'ok', message: `the federation certificate (${configured ? 'configured' : 'self-signed'}) is valid until ${new Date(until).toISOString()}` });
  }
  try {
    if (!cert.checkPrivateKey(createPrivateKey(readFileSync(keyPath)))) {
      findings.push({ check: 'tls', level: 'error', message: `the federation certificate does not match its private key ${keyPath}`, fix: configured ? 'point tls_certificate_path and tls_private_key_path at the same pair (fullchain.pem and privkey.pem)' : renew });
    }
  } catch (err) {
    findings.push({ check: 'tls', level: 'error', message: `the federation private key ${keyPath} does not load: ${(err as Error).message}`, fix: configured ? 'point federation.tls_private_key_path at the PEM key (privkey.pem)' : renew });
  }
  const host = parseServerName(serverName)?.host;
  const named = host === undefined ? undefined : host.startsWith('[') || /^[0-9.]+$/.test(host) ? cert.checkIP(host.replace(/^\[|\]$/g, '')) : cert.checkHost(host);
  if (host !== undefined && named === undefined) {
    findings.push({ check: 'tls', level: 'warning', message: `the federation certificate does not name ${host} (it is for ${cert.subjectAltName ?? cert.subject})`, fix: 'other servers that check certificates refuse it: get one for the server name (or for the host .well-known/matrix/server delegates to)' });
  }
  return findings;
};
