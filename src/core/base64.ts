/**
 * Base64 as Matrix uses it (appendices "Unpadded Base64", "URL-safe unpadded Base64").
 * Encoders never pad; the decoder accepts padded and unpadded input in either alphabet, as the
 * appendix asks ("SHOULD accept input with or without padding").
 */

/** Standard alphabet (`+`, `/`), no `=` padding: keys, signatures, content hashes. */
export function encodeUnpaddedBase64(bytes: Uint8Array): string {
  const padded = asBuffer(bytes).toString('base64');
  let end = padded.length;
  while (end > 0 && padded.charCodeAt(end - 1) === 0x3d /* = */) end--;
  return padded.slice(0, end);
}

/** URL-safe alphabet (`-`, `_`), no padding: event ids and v12 room ids. */
export function encodeUrlSafeBase64(bytes: Uint8Array): string {
  return asBuffer(bytes).toString('base64url');
}

const BASE64_BODY = /^[A-Za-z0-9+/_-]*$/;

/** Thrown by {@link decodeBase64} on text that is not base64. */
export class Base64Error extends Error {
  override name = 'Base64Error';
}

/**
 * Decode standard or URL-safe base64, padded or not. Unused trailing bits are ignored (the
 * appendix test seed `...XA1` has non-zero ones). Throws {@link Base64Error} on anything else:
 * foreign characters, wrong padding, or a length no byte count can produce.
 */
export function decodeBase64(text: string): Uint8Array {
  let body = text;
  if (body.endsWith('=')) {
    if (body.length % 4 !== 0) throw new Base64Error('padded base64 must be a multiple of 4 characters');
    body = body.endsWith('==') ? body.slice(0, -2) : body.slice(0, -1);
  }
  if (!BASE64_BODY.test(body)) throw new Base64Error('invalid base64 character');
  if (body.length % 4 === 1) throw new Base64Error('invalid base64 length');
  // Buffer's decoder reads both alphabets; the checks above stop it from skipping junk silently.
  const decoded = Buffer.from(body, 'base64');
  return new Uint8Array(decoded.buffer, decoded.byteOffset, decoded.byteLength);
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
