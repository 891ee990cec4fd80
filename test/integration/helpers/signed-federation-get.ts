/**
 * A GET to one Hearth's federation listener, signed (X-Matrix) with another Hearth's key, whose
 * answer is kept as sent: status, headers, raw body bytes (not decoded), and the size of the status
 * and header lines as HTTP/1.1 sent them. For tests and benchmarks that look at the wire.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { loadOrCreateKeyring } from '../../../src/federation/keys/key-files.js';
import { signRequest } from '../../../src/federation/transport/x-matrix.js';
import type { HearthServer } from './server.js';

export interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body bytes as they crossed the wire (gzip stays gzip). */
  raw: Buffer;
  /** Bytes of the status line and header lines (with their CRLFs and the blank line). */
  headerBytes: number;
}

export function signedFederationGet(from: HearthServer, to: HearthServer, path: string, headers: Record<string, string>): Promise<RawAnswer> {
  const key = loadOrCreateKeyring(from.dataDir, from.serverName).current;
  const authorization = signRequest({ method: 'GET', uri: path, origin: from.serverName, destination: to.serverName }, key);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`https://127.0.0.1:${to.federationPort}${path}`, { rejectUnauthorized: false, headers: { Authorization: authorization, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let headerBytes = `HTTP/1.1 ${res.statusCode} ${res.statusMessage}\r\n`.length + 2;
        for (let i = 0; i < res.rawHeaders.length; i += 2) headerBytes += `${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}\r\n`.length;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, raw: Buffer.concat(chunks), headerBytes });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
