/**
 * Path parameters are identifiers, checked before any handler sees them (issue 10: a NUL in an event
 * type posed as another state key). Each parameter name the routes use has its grammar
 * (appendices "Identifier Grammar", client-server "Size limits"); every other parameter (txn ids,
 * device ids, tags, ...) must at least be valid Unicode without NUL. A violation is 400
 * M_INVALID_PARAM, as Synapse answers an id it cannot parse.
 */
import type { FastifyInstance } from 'fastify';
import { invalidParam } from '../core/errors.js';
import {
  isPlausibleEventId,
  isValidEventType,
  isValidRoomAlias,
  isValidRoomId,
  isValidServerName,
  isValidStateKey,
  isValidUserId,
  isWellFormedText,
} from '../core/identifiers.js';

type Check = (value: string) => boolean;

const CHECKS: Record<string, Check> = {
  roomId: (v) => isValidRoomId(v),
  userId: (v) => isValidUserId(v),
  eventId: isPlausibleEventId,
  eventType: isValidEventType,
  // Account data types have the event type grammar.
  type: isValidEventType,
  stateKey: isValidStateKey,
  alias: (v) => isValidRoomAlias(v),
  roomIdOrAlias: (v) => (v.startsWith('#') ? isValidRoomAlias(v) : isValidRoomId(v)),
  // Media paths and the notary's key query: a name we might resolve and connect to.
  serverName: isValidServerName,
};

const anyParam: Check = (v) => !v.includes('\u0000') && isWellFormedText(v);

/** The first parameter that breaks its grammar, as `name`, or undefined. */
export function badIdentifierParam(params: Record<string, string | undefined>): string | undefined {
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined) continue;
    const check = CHECKS[name] ?? anyParam;
    if (!check(value) || !anyParam(value)) return name;
  }
  return undefined;
}

/** Refuses, for every route of `app`, a request whose path parameters break their grammar. */
export function installIdentifierParamChecks(app: FastifyInstance): void {
  app.addHook('preValidation', (req, _reply, done) => {
    const params = req.params as Record<string, string | undefined> | undefined;
    const bad = params ? badIdentifierParam(params) : undefined;
    if (bad === undefined) return done();
    done(invalidParam(`Invalid ${bad} in the path`));
  });
}
