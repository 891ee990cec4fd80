/**
 * The query of a thumbnail request, validated at the edge (client-server
 * `GET /_matrix/client/v1/media/thumbnail/{serverName}/{mediaId}`, the legacy
 * `/_matrix/media/v3/thumbnail/...` and federation `GET /_matrix/federation/v1/media/thumbnail/{mediaId}`
 * take the same parameters). As Synapse: `width` and `height` are required non-negative integers
 * (400 M_MISSING_PARAM / M_INVALID_PARAM), `method` defaults to `scale`, `animated` is `true` or
 * `false`. A `method` other than `crop` or `scale` is 400 M_INVALID_PARAM (the spec's enum; Synapse
 * answers 404, having no such thumbnails).
 */
import { invalidParam, missingParam } from '../core/errors.js';
import type { ThumbnailRequest } from './thumbnail-sizes.js';

/** Larger dimensions are valid but mean nothing more: every thumbnail is smaller. */
const MAX_DIMENSION = 1_000_000;

export function parseThumbnailRequest(query: Record<string, unknown>): ThumbnailRequest {
  const width = dimension(query, 'width');
  const height = dimension(query, 'height');
  const method = single(query, 'method') ?? 'scale';
  if (method !== 'crop' && method !== 'scale') throw invalidParam('method must be "crop" or "scale"');
  const animatedParam = single(query, 'animated');
  if (animatedParam !== undefined && animatedParam !== 'true' && animatedParam !== 'false') throw invalidParam('animated must be "true" or "false"');
  return { width, height, method, animated: animatedParam === 'true' };
}

function single(query: Record<string, unknown>, name: string): string | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalidParam(`${name} must be given once`);
  return value;
}

function dimension(query: Record<string, unknown>, name: string): number {
  const value = single(query, name);
  if (value === undefined) throw missingParam(`Missing integer query parameter "${name}"`);
  if (!/^[0-9]{1,16}$/.test(value)) throw invalidParam(`Query parameter "${name}" must be a non-negative integer`);
  return Math.min(Number(value), MAX_DIMENSION);
}
