/**
 * Full-text matching for server-side search (client-server "Server Side Search", `room_events`).
 * Pure. A search term matches an event when every word of the term begins a word of the event's
 * searchable text (case-insensitive, Unicode-normalised: "temp" finds "Temperature"); the rank is
 * how densely the term's words occur.
 */
import type { JsonObject } from '../core/types.js';
import { isJsonObject } from '../core/json-object.js';

export const SEARCH_KEYS = ['content.body', 'content.name', 'content.topic'] as const;
export type SearchKey = (typeof SEARCH_KEYS)[number];

/** Letters and digits in any script; everything else separates words. */
const WORD = /[\p{L}\p{N}]+/gu;

export function words(text: string): string[] {
  return text.normalize('NFKC').toLowerCase().match(WORD) ?? [];
}

/**
 * The text of an event that the search looks at, by "The supported keys to search over":
 * `content.body` of m.room.message, `content.name` of m.room.name, `content.topic` of m.room.topic
 * and the `text/plain` body of its `m.topic`.
 */
export function searchableText(type: string, content: JsonObject, keys: ReadonlySet<SearchKey>): string | undefined {
  if (type === 'm.room.message' && keys.has('content.body')) return stringOr(content.body);
  if (type === 'm.room.name' && keys.has('content.name')) return stringOr(content.name);
  if (type === 'm.room.topic' && keys.has('content.topic')) {
    const parts = [stringOr(content.topic)];
    const topic = content['m.topic'];
    if (isJsonObject(topic) && Array.isArray(topic['m.text'])) {
      for (const repr of topic['m.text']) {
        if (isJsonObject(repr) && (repr.mimetype === undefined || repr.mimetype === 'text/plain')) parts.push(stringOr(repr.body));
      }
    }
    const text = parts.filter((p) => p !== undefined).join(' ');
    return text === '' ? undefined : text;
  }
  return undefined;
}

/** The event types worth reading for these keys. */
export function searchableTypes(keys: ReadonlySet<SearchKey>): Set<string> {
  const types = new Set<string>();
  if (keys.has('content.body')) types.add('m.room.message');
  if (keys.has('content.name')) types.add('m.room.name');
  if (keys.has('content.topic')) types.add('m.room.topic');
  return types;
}

/** The rank of `text` for the term's words, or 0 when some word of the term is missing. */
export function rankText(termWords: readonly string[], text: string): number {
  if (termWords.length === 0) return 0;
  const textWords = words(text);
  let hits = 0;
  for (const term of termWords) {
    let found = 0;
    for (const w of textWords) if (w.startsWith(term)) found++;
    if (found === 0) return 0;
    hits += found;
  }
  // Denser matches rank higher; a short message naming the term beats a long one mentioning it.
  return hits / Math.sqrt(textWords.length);
}

function stringOr(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
