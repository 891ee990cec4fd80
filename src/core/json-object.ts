/**
 * The one check for "a JSON object": parsed JSON (bodies, event content, key objects) arrives as
 * `unknown`, and `typeof null === 'object'` and arrays make the test easy to get subtly wrong.
 */
import type { JsonObject } from './types.js';

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
