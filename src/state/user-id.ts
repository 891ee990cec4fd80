/**
 * The user id check the auth rules apply to power level `users` keys (rooms/v10 rule 9.3) and to
 * v12 `additional_creators` (rooms/v12 rule 1.4). Deliberately the lenient historical grammar
 * (appendices "Historical User IDs": servers MUST accept localparts of any code points except `:`
 * and NUL, even empty), since rooms contain users whose ids predate the strict grammar and
 * rejecting their power levels would split the room. Checked: the `@` sigil, a NUL-free
 * localpart, a `:` followed by a non-empty server name, and the 255-byte limit.
 */
const MAX_USER_ID_BYTES = 255;

export function isValidUserId(value: string): boolean {
  if (!value.startsWith('@')) return false;
  const colon = value.indexOf(':');
  if (colon < 1 || colon === value.length - 1) return false;
  if (value.slice(1, colon).includes('\u0000')) return false;
  return Buffer.byteLength(value, 'utf8') <= MAX_USER_ID_BYTES;
}
