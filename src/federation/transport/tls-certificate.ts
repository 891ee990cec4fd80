/**
 * The federation listener's TLS certificate (server-server "TLS"): the operator's PEM files when
 * `federation.tls_certificate_path` / `tls_private_key_path` are set, else a self-signed pair made
 * once with the `openssl` command into the data directory (Node cannot build an X.509 certificate
 * itself). A self-signed certificate only satisfies peers that skip verification (test setups,
 * Synapse's `federation_verify_certificates: false`); docs/federation.md says how to get a real one.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseServerName } from '../../core/identifiers.js';

const run = promisify(execFile);

export interface TlsCertificate {
  /** PEM certificate (chain). */
  cert: Buffer;
  /** PEM private key. */
  key: Buffer;
  /** Where it came from, for the log. */
  source: 'configured' | 'generated' | 'generated-earlier';
}

export interface TlsCertificateOptions {
  dataDir: string;
  serverName: string;
  certificatePath: string;
  privateKeyPath: string;
}

export const GENERATED_CERT_FILE = 'federation-tls.crt';
export const GENERATED_KEY_FILE = 'federation-tls.key';

/** Ten years: a self-signed certificate is trusted by skipping verification, not by its dates. */
const GENERATED_VALIDITY_DAYS = 3650;

export async function loadOrCreateTlsCertificate(opts: TlsCertificateOptions): Promise<TlsCertificate> {
  if (opts.certificatePath !== '' || opts.privateKeyPath !== '') {
    if (opts.certificatePath === '' || opts.privateKeyPath === '') {
      throw new Error('federation.tls_certificate_path and federation.tls_private_key_path must be set together');
    }
    return { cert: await readPem(opts.certificatePath, 'tls_certificate_path'), key: await readPem(opts.privateKeyPath, 'tls_private_key_path'), source: 'configured' };
  }
  const certFile = join(opts.dataDir, GENERATED_CERT_FILE);
  const keyFile = join(opts.dataDir, GENERATED_KEY_FILE);
  let source: TlsCertificate['source'] = 'generated-earlier';
  if (!existsSync(certFile) || !existsSync(keyFile)) {
    await generateSelfSigned(opts.serverName, certFile, keyFile);
    source = 'generated';
  }
  return { cert: await readFile(certFile), key: await readFile(keyFile), source };
}

async function readPem(path: string, setting: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new Error(`cannot read federation.${setting} (${path}): ${(err as Error).message}`);
  }
}

/**
 * An ECDSA P-256 key (generated in milliseconds even on a Pi, unlike RSA) and a certificate whose
 * subjectAltName is the server name's host: a DNS name, or an IP address for an IP literal.
 */
async function generateSelfSigned(serverName: string, certFile: string, keyFile: string): Promise<void> {
  const parsed = parseServerName(serverName);
  const host = parsed?.host ?? 'localhost';
  const san = parsed?.kind === 'ipv6' ? `IP:${host.slice(1, -1)}` : parsed?.kind === 'ipv4' ? `IP:${host}` : `DNS:${host}`;
  const commonName = parsed?.kind === 'ipv6' ? host.slice(1, -1) : host;
  try {
    await run('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', keyFile, '-out', certFile, '-days', String(GENERATED_VALIDITY_DAYS),
      '-subj', `/CN=${commonName}`, '-addext', `subjectAltName=${san}`,
    ]);
  } catch (err) {
    const e = err as { code?: string; stderr?: string; message: string };
    if (e.code === 'ENOENT') {
      throw new Error('cannot generate the federation TLS certificate: the openssl command is not installed. Install it, or set federation.tls_certificate_path and tls_private_key_path, or federation.tls: false behind a reverse proxy');
    }
    throw new Error(`cannot generate the federation TLS certificate with openssl: ${(e.stderr ?? e.message).trim()}`);
  }
}
