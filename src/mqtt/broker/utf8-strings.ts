/**
 * MQTT 3.1.1 section 1.5.3: every string of a control packet (topic names and filters, client id,
 * user name, will topic) is UTF-8 that "MUST be well-formed" and "MUST NOT include an encoding of
 * the null character U+0000"; a server receiving either "MUST close the Network Connection"
 * [MQTT-1.5.3-1], [MQTT-1.5.3-2].
 *
 * aedes' parser (mqtt-packet 9) decodes strings with `Buffer.toString('utf8')`, which silently
 * turns ill-formed bytes into U+FFFD and keeps U+0000: a topic `a\0b` or `caf\xC3` would reach the
 * ACL, the bridge and the retained store as some other string than the device sent. Once decoded,
 * "U+FFFD sent" and "garbage replaced" cannot be told apart, so the check runs on the bytes, in the
 * parser of each aedes connection (`strictStrings`), before any hook sees the packet.
 */
import { isUtf8 } from 'node:buffer';

/** Why a string's bytes are refused, or undefined when they are an MQTT UTF-8 encoded string. */
export function mqttStringViolation(bytes: Uint8Array): string | undefined {
  if (bytes.includes(0)) return 'contains U+0000 (MQTT 3.1.1 [MQTT-1.5.3-2])';
  if (!isUtf8(bytes)) return 'is not well-formed UTF-8 (MQTT 3.1.1 [MQTT-1.5.3-1])';
  return undefined;
}

/** The part of mqtt-packet's Parser this relies on (parser.js `_parseString`, `_emitError`). */
interface MqttPacketParser {
  _list: { slice(start: number, end: number): Buffer; readUInt16BE(offset: number): number; length: number };
  _pos: number;
  _parseString(): string | null;
  _emitError(err: Error): void;
}

/**
 * Makes one connection's parser refuse ill-formed strings: the packet fails to parse, the parser
 * emits an error naming the rule, and aedes closes that connection (its `clientError`). Installed
 * per parser instance, not on the shared prototype: mqtt.js (external mode) shares mqtt-packet.
 * `onViolation` is told once per refused string (for the broker's counters).
 */
export function strictStrings(parser: unknown, onViolation: (violation: string) => void): void {
  const p = parser as MqttPacketParser;
  const decode = p._parseString.bind(p);
  const emitError = p._emitError.bind(p);
  let refused: string | undefined;
  p._parseString = function parseStrictString(): string | null {
    // A string is a 2-byte length, then its bytes (section 1.5.3); incomplete input stays decode's case.
    const start = p._pos;
    if (start + 2 <= p._list.length) {
      const end = start + 2 + p._list.readUInt16BE(start);
      if (end <= p._list.length) {
        const violation = mqttStringViolation(p._list.slice(start + 2, end));
        if (violation !== undefined) {
          refused = violation;
          onViolation(violation);
          // mqtt-packet's callers turn null into their own error ("Cannot parse topic"), which
          // _emitError below replaces with the reason.
          return null;
        }
      }
    }
    return decode();
  };
  p._emitError = function emitStringError(err: Error): void {
    const reason = refused;
    refused = undefined;
    emitError(reason === undefined ? err : new Error(`string ${reason}`));
  };
}
