/**
 * Benchmark: ed25519 sign/verify with @noble/curves (pure JS) against node:crypto (OpenSSL).
 * Run: `node --import tsx scripts/bench-ed25519.ts [ops]` (default 2000 ops per measurement).
 * The message is a typical redacted PDU in canonical JSON (about 470 bytes), since that is what the
 * hot path signs and verifies. Results and the decision are recorded in docs/crypto.md.
 */
import { createPrivateKey, createPublicKey, randomBytes, sign, verify } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';

const ops = Number(process.argv[2] ?? 2000);

const message = Buffer.from(
  JSON.stringify({
    auth_events: ['$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg', '$Nhcu5BS-UMnFX7hBVfVSoXiD7OgH6iRT-xyIuqDnpYQ'],
    content: { membership: 'join' },
    depth: 12,
    hashes: { sha256: 'onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g' },
    origin_server_ts: 1720000000000,
    prev_events: ['$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg'],
    room_id: '!Nhcu5BS-UMnFX7hBVfVSoXiD7OgH6iRT-xyIuqDnpYQ',
    sender: '@thermostat:hearth.local',
    state_key: '@thermostat:hearth.local',
    type: 'm.room.member',
  }),
);

const seed = new Uint8Array(randomBytes(32));
const nobleKeyPublic = ed25519.getPublicKey(seed);

// DER prefixes for raw 32-byte ed25519 keys (RFC 8410): PKCS#8 private key and SPKI public key.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const nodePrivate = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
const nodePublic = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, nobleKeyPublic]), format: 'der', type: 'spki' });

function measure(label: string, run: () => void): number {
  for (let i = 0; i < Math.min(200, ops); i++) run(); // warm-up (JIT, noble's precomputed tables)
  const start = process.hrtime.bigint();
  for (let i = 0; i < ops; i++) run();
  const micros = Number(process.hrtime.bigint() - start) / 1000 / ops;
  console.log(`${label.padEnd(40)} ${micros.toFixed(1).padStart(8)} µs/op ${(1e6 / micros).toFixed(0).padStart(8)} ops/s`);
  return micros;
}

const nobleSig = ed25519.sign(message, seed);
const nodeSig = sign(null, message, nodePrivate);
if (Buffer.compare(Buffer.from(nobleSig), nodeSig) !== 0) throw new Error('implementations disagree');

console.log(`ed25519, ${ops} ops each, message ${message.length} bytes, node ${process.version}`);
measure('noble sign', () => ed25519.sign(message, seed));
measure('node:crypto sign (cached KeyObject)', () => sign(null, message, nodePrivate));
measure('noble verify', () => ed25519.verify(nobleSig, message, nobleKeyPublic));
measure('node:crypto verify (cached KeyObject)', () => verify(null, message, nodePublic, nodeSig));
measure('node:crypto verify (KeyObject per op)', () =>
  verify(null, message, createPublicKey({ key: Buffer.concat([SPKI_PREFIX, nobleKeyPublic]), format: 'der', type: 'spki' }), nodeSig),
);
