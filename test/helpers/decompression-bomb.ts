/**
 * A real 30000 x 30000 PNG (1 bit per pixel, all black): ~110 KB on disk that would decode to
 * 900 M pixels. What the thumbnailer must refuse from its header alone (the thumbnail test and the
 * bench's `thumbs` section).
 */
import { crc32, deflateSync } from 'node:zlib';

export function decompressionBomb(): Buffer {
  const side = 30_000;
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(side, 0);
  header.writeUInt32BE(side, 4);
  header[8] = 1; // bit depth
  header[9] = 0; // greyscale
  // Each row: a filter byte and side / 8 bytes of pixels, all zero (compresses to ~110 KB).
  const rows = deflateSync(Buffer.alloc((side / 8 + 1) * side), { level: 9 });
  return Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), chunk('IHDR', header), chunk('IDAT', rows), chunk('IEND', Buffer.alloc(0))]);
}
