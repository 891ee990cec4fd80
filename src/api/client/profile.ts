/** User profiles (client-server-api "Profiles"): display name and avatar URL of local users. */
import type { FastifyInstance } from 'fastify';
import type { AccountService, Profile } from '../../accounts/accounts.js';
import type { Authenticator } from '../../http/auth.js';
import { forbidden, notFound } from '../../core/errors.js';

export interface ProfileDeps {
  auth: Authenticator;
  accounts: Pick<AccountService, 'getProfile' | 'setProfile'>;
  /**
   * Called after a profile change is stored: the room engine sends updated m.room.member events into
   * the user's joined rooms ("Events on Change of Profile Information").
   */
  onProfileChange(userId: string, profile: Profile): Promise<void>;
}

type ProfileField = 'displayname' | 'avatar_url';

/** Display names as long as Synapse allows; avatar URLs are `mxc://` URIs, short in practice. */
const FIELD_MAX_LENGTH: Record<ProfileField, number> = { displayname: 256, avatar_url: 1000 };

export function registerProfileRoutes(app: FastifyInstance, deps: ProfileDeps): void {
  const load = async (userId: string): Promise<Profile> => {
    const profile = await deps.accounts.getProfile(userId);
    if (!profile) throw notFound('Profile not found');
    return profile;
  };

  /** GET /_matrix/client/v3/profile/{userId} */
  app.get<{ Params: { userId: string } }>('/_matrix/client/v3/profile/:userId', async (req) => load(req.params.userId));

  for (const field of ['displayname', 'avatar_url'] as const) {
    /** GET /_matrix/client/v3/profile/{userId}/displayname and .../avatar_url */
    app.get<{ Params: { userId: string } }>(`/_matrix/client/v3/profile/:userId/${field}`, async (req) => {
      const value = (await load(req.params.userId))[field];
      if (value === undefined) throw notFound(`No ${field} set`);
      return { [field]: value };
    });

    /** PUT /_matrix/client/v3/profile/{userId}/displayname and .../avatar_url: only one's own profile. */
    app.put<{ Params: { userId: string }; Body: Record<ProfileField, string> }>(
      `/_matrix/client/v3/profile/:userId/${field}`,
      {
        schema: {
          body: {
            type: 'object',
            required: [field],
            properties: { [field]: { type: 'string', maxLength: FIELD_MAX_LENGTH[field] } },
          },
        },
      },
      async (req) => {
        const requester = await deps.auth.requireUser(req);
        if (requester.userId !== req.params.userId) throw forbidden("Cannot change another user's profile");
        const profile = await deps.accounts.setProfile(requester.userId, { [field]: req.body[field] });
        await deps.onProfileChange(requester.userId, profile);
        return {};
      },
    );
  }
}
