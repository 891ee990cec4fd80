/**
 * Refuses an oversized MQTT packet from its fixed header, before its body is buffered.
 *
 * aedes' parser (mqtt-packet) has no packet size limit: it collects a whole packet, up to the
 * 256 MB the remaining-length field can declare, before any hook sees it, so our payload check in
 * `authorizePublish` came after the memory was spent (on a 1 GB gateway, a handful of such
 * packets is an outage). MQTT 3.1.1 section 2.2.3: every packet starts with one byte of type and
 * flags and a variable-length "remaining length" (1-4 bytes, 7 bits each, low first). Watching the
 * bytes aedes reads, packet by packet, tells the declared size at its first bytes; over the limit,
 * the connection is closed ([MQTT-3.3.5-2] allows closing instead of acknowledging a PUBLISH).
 */
import type { Socket } from 'node:net';

/** Where the scanner is within the current packet. */
type Phase = 'type' | 'length' | 'body';

/** Follows packet boundaries over a byte stream; pure, so every split of the bytes is unit-tested. */
export class PacketSizeScanner {
  private phase: Phase = 'type';
  private length = 0;
  private lengthBytes = 0;
  private bodyLeft = 0;

  constructor(private readonly maxRemainingLength: number) {}

  /**
   * Feeds the next bytes of the stream. Returns the declared remaining length of a packet over the
   * limit, `-1` for a remaining length that is not valid MQTT (more than 4 bytes), or 0 when all is well.
   */
  push(chunk: Uint8Array): number {
    let i = 0;
    while (i < chunk.length) {
      switch (this.phase) {
        case 'type':
          i++;
          this.phase = 'length';
          this.length = 0;
          this.lengthBytes = 0;
          break;
        case 'length': {
          const byte = chunk[i++]!;
          this.length += (byte & 0x7f) * 128 ** this.lengthBytes;
          this.lengthBytes++;
          if (byte & 0x80) {
            if (this.lengthBytes === 4) return -1;
            break;
          }
          if (this.length > this.maxRemainingLength) return this.length;
          this.bodyLeft = this.length;
          this.phase = this.bodyLeft > 0 ? 'body' : 'type';
          break;
        }
        case 'body': {
          const take = Math.min(this.bodyLeft, chunk.length - i);
          i += take;
          this.bodyLeft -= take;
          if (this.bodyLeft === 0) this.phase = 'type';
          break;
        }
      }
    }
    return 0;
  }
}

/**
 * Watches what aedes reads from `socket` (a `data` listener beside aedes' `readable` one sees each
 * chunk as aedes reads it, without taking over the flow) and destroys the socket at the first packet
 * declaring more than `maxRemainingLength` bytes. Call after `aedes.handle(socket)`.
 */
export function guardPacketSize(socket: Socket, maxRemainingLength: number, onRefused: (declared: number) => void): void {
  const scanner = new PacketSizeScanner(maxRemainingLength);
  const watch = (chunk: Buffer): void => {
    const verdict = scanner.push(chunk);
    if (verdict === 0) return;
    socket.off('data', watch);
    onRefused(verdict);
    socket.destroy();
  };
  socket.on('data', watch);
}
