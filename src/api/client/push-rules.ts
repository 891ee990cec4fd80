/** Push rules API (modules/push.md "Push Rules: API"); only the `global` scope exists. */
import type { FastifyInstance } from 'fastify';
import { isPushRuleKind, type PushRuleKind, type PushRulesService } from '../../accounts/push-rules.js';
import type { JsonObject } from '../../core/types.js';
import type { Authenticator } from '../../http/auth.js';
import { ErrCode, MatrixError, invalidParam } from '../../core/errors.js';

export interface PushRulesDeps {
  auth: Authenticator;
  pushRules: Pick<PushRulesService, 'pushRulesFor' | 'getRule' | 'putRule' | 'deleteRule' | 'setEnabled' | 'setActions'>;
}

type RuleParams = { scope: string; kind: string; ruleId: string };

function ruleTarget(params: RuleParams): { kind: PushRuleKind; ruleId: string } {
  if (params.scope !== 'global') throw invalidParam('Only the global scope is supported');
  if (!isPushRuleKind(params.kind)) throw invalidParam(`Unknown rule kind ${params.kind}`);
  return { kind: params.kind, ruleId: params.ruleId };
}

const KIND_PATH = '/_matrix/client/v3/pushrules/:scope/:kind';
const RULE_PATH = `${KIND_PATH}/:ruleId`;

export function registerPushRulesRoutes(app: FastifyInstance, deps: PushRulesDeps): void {
  /** GET /_matrix/client/v3/pushrules/ */
  app.get('/_matrix/client/v3/pushrules/', async (req) => {
    const requester = await deps.auth.requireUser(req);
    return deps.pushRules.pushRulesFor(requester.userId);
  });

  /** GET /_matrix/client/v3/pushrules/global/ */
  app.get('/_matrix/client/v3/pushrules/global/', async (req) => {
    const requester = await deps.auth.requireUser(req);
    return (await deps.pushRules.pushRulesFor(requester.userId)).global;
  });

  /**
   * GET /_matrix/client/v3/pushrules/global/{kind}/: the rules of one kind, in priority order
   * (Synapse answers the list; the spec's API section lists the paths below it).
   */
  app.get<{ Params: Omit<RuleParams, 'ruleId'> }>(KIND_PATH, async (req) => {
    const requester = await deps.auth.requireUser(req);
    const { kind } = ruleTarget({ ...req.params, ruleId: '' });
    return (await deps.pushRules.pushRulesFor(requester.userId)).global[kind];
  });

  // A rule path without a rule id (`.../override/`, the id left empty) names no rule: 400 as
  // Synapse answers (M_UNRECOGNIZED), never a 404 or 405 that reads as "no such endpoint".
  for (const method of ['PUT', 'DELETE'] as const) {
    app.route({
      method,
      url: KIND_PATH,
      handler: async (req) => {
        await deps.auth.requireUser(req);
        throw new MatrixError(400, ErrCode.UNRECOGNIZED, 'A push rule path needs a rule id: /pushrules/global/{kind}/{ruleId}');
      },
    });
  }

  /** GET /_matrix/client/v3/pushrules/global/{kind}/{ruleId} */
  app.get<{ Params: RuleParams }>(RULE_PATH, async (req) => {
    const requester = await deps.auth.requireUser(req);
    const { kind, ruleId } = ruleTarget(req.params);
    return deps.pushRules.getRule(requester.userId, kind, ruleId);
  });

  /** PUT /_matrix/client/v3/pushrules/global/{kind}/{ruleId} */
  app.put<{ Params: RuleParams; Querystring: { before?: string; after?: string }; Body: { actions: unknown[]; conditions?: JsonObject[]; pattern?: string } }>(
    RULE_PATH,
    {
      schema: {
        body: {
          type: 'object',
          required: ['actions'],
          properties: { actions: { type: 'array' }, conditions: { type: 'array', items: { type: 'object' } }, pattern: { type: 'string' } },
        },
      },
    },
    async (req) => {
      const requester = await deps.auth.requireUser(req);
      const { kind, ruleId } = ruleTarget(req.params);
      const { before, after } = req.query;
      await deps.pushRules.putRule(requester.userId, kind, ruleId, req.body, {
        ...(before !== undefined ? { before } : {}),
        ...(after !== undefined ? { after } : {}),
      });
      return {};
    },
  );

  /** DELETE /_matrix/client/v3/pushrules/global/{kind}/{ruleId} */
  app.delete<{ Params: RuleParams }>(RULE_PATH, async (req) => {
    const requester = await deps.auth.requireUser(req);
    const { kind, ruleId } = ruleTarget(req.params);
    await deps.pushRules.deleteRule(requester.userId, kind, ruleId);
    return {};
  });

  /** GET /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/enabled */
  app.get<{ Params: RuleParams }>(`${RULE_PATH}/enabled`, async (req) => {
    const requester = await deps.auth.requireUser(req);
    const { kind, ruleId } = ruleTarget(req.params);
    return { enabled: (await deps.pushRules.getRule(requester.userId, kind, ruleId)).enabled };
  });

  /** PUT /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/enabled */
  app.put<{ Params: RuleParams; Body: { enabled: boolean } }>(
    `${RULE_PATH}/enabled`,
    { schema: { body: { type: 'object', required: ['enabled'], properties: { enabled: { type: 'boolean' } } } } },
    async (req) => {
      const requester = await deps.auth.requireUser(req);
      const { kind, ruleId } = ruleTarget(req.params);
      await deps.pushRules.setEnabled(requester.userId, kind, ruleId, req.body.enabled);
      return {};
    },
  );

  /** GET /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/actions */
  app.get<{ Params: RuleParams }>(`${RULE_PATH}/actions`, async (req) => {
    const requester = await deps.auth.requireUser(req);
    const { kind, ruleId } = ruleTarget(req.params);
    return { actions: (await deps.pushRules.getRule(requester.userId, kind, ruleId)).actions };
  });

  /** PUT /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/actions */
  app.put<{ Params: RuleParams; Body: { actions: unknown[] } }>(
    `${RULE_PATH}/actions`,
    { schema: { body: { type: 'object', required: ['actions'], properties: { actions: { type: 'array' } } } } },
    async (req) => {
      const requester = await deps.auth.requireUser(req);
      const { kind, ruleId } = ruleTarget(req.params);
      await deps.pushRules.setActions(requester.userId, kind, ruleId, req.body.actions);
      return {};
    },
  );
}
