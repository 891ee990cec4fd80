/**
 * Mutators: a seed input (a valid request body, query or MQTT payload) changed a little, so that
 * most of it still passes validation and the change reaches the code behind it. Structural
 * mutations act on the parsed JSON; byte mutations act on the encoded text (truncation, invalid
 * UTF-8, NUL, nesting) and produce what no JSON encoder would.
 */
import type { Prng } from './prng.js';
import { deeplyNestedText, hostileKey, hostileNumber, hostileString, randomJson, type Json } from './values.js';

type Container = Json[] | { [key: string]: Json };

function isContainer(v: Json): v is Container {
  return v !== null && typeof v === 'object';
}

/** Every container in `value` with the path to it (the root first). */
function containers(value: Json, out: Container[] = []): Container[] {
  if (isContainer(value)) {
    out.push(value);
    for (const child of Array.isArray(value) ? value : Object.values(value)) containers(child, out);
  }
  return out;
}

/** One value changed for another of a different kind or a hostile one of the same kind. */
function mutatedLeaf(rng: Prng, old: Json): Json {
  return rng.weighted<() => Json>([
    [3, () => (typeof old === 'string' ? hostileString(rng) : typeof old === 'number' ? hostileNumber(rng) : randomJson(rng, 1))],
    [2, () => randomJson(rng, 2)],
    [1, () => (typeof old === 'string' ? old + hostileString(rng) : old)],
    [1, () => [old]],
    [1, () => ({ value: old })],
    [1, () => null],
  ])();
}

/** `rounds` structural mutations of a deep copy of `seed`. */
export function mutateJson(rng: Prng, seed: Json, rounds = rng.range(1, 3)): Json {
  let root: Json = structuredClone(seed);
  for (let r = 0; r < rounds; r++) {
    const all = containers(root);
    if (all.length === 0 || rng.chance(0.05)) {
      root = mutatedLeaf(rng, root);
      continue;
    }
    const target = rng.pick(all);
    if (Array.isArray(target)) {
      if (target.length > 0 && rng.chance(0.6)) {
        const i = rng.int(target.length);
        if (rng.chance(0.3)) target.splice(i, 1);
        else target[i] = mutatedLeaf(rng, target[i]!);
      } else {
        target.push(randomJson(rng, 2));
      }
      continue;
    }
    const keys = Object.keys(target);
    const op = keys.length === 0 ? 0 : rng.int(4);
    if (op === 0) {
      // Own property even for "__proto__" (defineProperty, as JSON.parse would make it).
      Object.defineProperty(target, hostileKey(rng), { value: randomJson(rng, 2), enumerable: true, writable: true, configurable: true });
    } else if (op === 1) {
      delete target[rng.pick(keys)];
    } else {
      const key = rng.pick(keys);
      target[key] = mutatedLeaf(rng, target[key]!);
    }
  }
  return root;
}

const INVALID_UTF8 = [
  Buffer.from([0xff]),
  Buffer.from([0xc0, 0x80]),
  Buffer.from([0xed, 0xa0, 0x80]), // an encoded surrogate
  Buffer.from([0x80]),
  Buffer.from([0xf4, 0x90, 0x80, 0x80]), // above U+10FFFF
  Buffer.from([0xe2, 0x82]), // truncated sequence
];

/** Byte-level damage to an encoded body. */
export function mutateBytes(rng: Prng, bytes: Buffer): Buffer {
  const at = bytes.length === 0 ? 0 : rng.int(bytes.length + 1);
  return rng.weighted<() => Buffer>([
    [3, () => bytes.subarray(0, at)],
    [3, () => Buffer.concat([bytes.subarray(0, at), rng.pick(INVALID_UTF8), bytes.subarray(at)])],
    [2, () => {
      const copy = Buffer.from(bytes);
      for (let i = rng.range(1, 4); i > 0 && copy.length > 0; i--) copy[rng.int(copy.length)] = rng.nextU32() & 0xff;
      return copy;
    }],
    [2, () => Buffer.concat([bytes.subarray(0, at), Buffer.from(rng.pick(['\\u0000', '\\ud800', '\\udc00', '\u0000', '"', '\\', ',', '}', ']', '{', '[', ':', '1e999', '-', 'NaN']), 'utf8'), bytes.subarray(at)])],
    [1, () => Buffer.from(deeplyNestedText(rng, rng.pick([64, 100, 129, 512, 4000, 10_000, 100_000])), 'utf8')],
    [1, () => Buffer.concat([bytes, bytes])],
    [1, () => rng.bytes(rng.range(0, 64))],
    [1, () => Buffer.from(`{"a":1,"a":2,${bytes.toString('utf8').slice(1)}`, 'utf8')],
  ])();
}

/** A JSON body from a seed: mostly structural mutations, some byte damage, some fresh values. */
export function mutateBody(rng: Prng, seed: Json): Buffer {
  return rng.weighted<() => Buffer>([
    [6, () => Buffer.from(JSON.stringify(mutateJson(rng, seed)), 'utf8')],
    [2, () => mutateBytes(rng, Buffer.from(JSON.stringify(rng.chance(0.5) ? seed : mutateJson(rng, seed)), 'utf8'))],
    [1, () => Buffer.from(JSON.stringify(randomJson(rng, 3)), 'utf8')],
    [1, () => Buffer.from(JSON.stringify(seed), 'utf8')],
  ])();
}
