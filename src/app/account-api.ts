/**
 * Assembles the account side of the Client-Server API (discovery, login and registration, devices,
 * profiles, account data, filters, push rules, typing, receipts, read markers, to-device, Synapse's
 * shared-secret registration) around the account services. Used by the client API assembler
 * (client-api.ts) and by tests.
 */
import type { FastifyInstance } from 'fastify';
import type { HearthConfig } from '../config/config.js';
import type { Authenticator } from '../http/auth.js';
import type { AccountService, Profile } from '../accounts/accounts.js';
import type { AccountDataService } from '../accounts/account-data.js';
import type { FilterService } from '../accounts/filters.js';
import type { PushRulesService } from '../accounts/push-rules.js';
import type { ReceiptService } from '../accounts/receipts.js';
import type { ToDeviceService } from '../accounts/to-device.js';
import type { TypingManager } from '../accounts/typing.js';
import type { UserInteractiveAuth } from '../accounts/uia.js';
import { SharedSecretRegistration } from '../accounts/shared-secret.js';
import { registerVersionsRoutes } from '../api/client/versions.js';
import { registerWellKnownRoutes } from '../api/client/well-known.js';
import { registerCapabilitiesRoutes } from '../api/client/capabilities.js';
import { registerLoginRoutes } from '../api/client/login.js';
import { registerLogoutRoutes } from '../api/client/logout.js';
import { registerRegisterRoutes } from '../api/client/register.js';
import { registerAccountRoutes } from '../api/client/account.js';
import { registerDevicesRoutes } from '../api/client/devices.js';
import { registerProfileRoutes } from '../api/client/profile.js';
import { registerAccountDataRoutes } from '../api/client/account-data.js';
import { registerFilterRoutes } from '../api/client/filters.js';
import { registerPushRulesRoutes } from '../api/client/push-rules.js';
import { registerTypingRoutes } from '../api/client/typing.js';
import { registerReceiptRoutes } from '../api/client/receipts.js';
import { registerReadMarkerRoutes } from '../api/client/read-markers.js';
import { registerToDeviceRoutes } from '../api/client/to-device.js';
import { registerSynapseAdminRoutes } from '../api/client/synapse-admin.js';
import { registerWhoisRoutes } from '../api/client/admin-whois.js';
import { registerTagRoutes } from '../api/client/tags.js';
import { registerVoipRoutes } from '../api/client/voip.js';
import { RoomTagsService } from '../accounts/room-tags.js';
import type { ClientRateLimits } from '../limits/client-limits.js';

export interface AccountApiDeps {
  config: Pick<HearthConfig, 'client' | 'registration' | 'turn' | 'defaultRoomVersion'>;
  auth: Authenticator;
  accounts: AccountService;
  uia: UserInteractiveAuth;
  accountData: AccountDataService;
  filters: FilterService;
  pushRules: PushRulesService;
  typing: TypingManager;
  /** Where receipts go (the gateway resets unread counts on the way). */
  receipts: Pick<ReceiptService, 'setReceipt'>;
  toDevice: ToDeviceService;
  isJoined(userId: string, roomId: string): Promise<boolean>;
  /** After a profile change: member events into the user's rooms. */
  onProfileChange(userId: string, profile: Profile): Promise<void>;
  /** Before a deactivation: the user leaves every room and rejects every invite. */
  leaveAllRooms(userId: string): Promise<void>;
  /** Login and registration rate limits; none: unlimited (tests of other things). */
  limits?: ClientRateLimits;
}

export function registerAccountApi(app: FastifyInstance, deps: AccountApiDeps): void {
  const { config, auth, accounts, uia, accountData, receipts, isJoined } = deps;
  registerVersionsRoutes(app);
  registerWellKnownRoutes(app, { publicBaseUrl: config.client.publicBaseUrl });
  registerCapabilitiesRoutes(app, { auth, defaultRoomVersion: config.defaultRoomVersion });
  const limits = deps.limits ? { limits: deps.limits } : {};
  registerLoginRoutes(app, { accounts, publicBaseUrl: config.client.publicBaseUrl, ...limits });
  registerLogoutRoutes(app, { auth, accounts });
  registerRegisterRoutes(app, { accounts, uia, registration: config.registration, ...limits });
  registerAccountRoutes(app, { auth, accounts, uia, leaveAllRooms: deps.leaveAllRooms });
  registerDevicesRoutes(app, { auth, accounts, uia });
  registerWhoisRoutes(app, { auth, accounts });
  registerProfileRoutes(app, { auth, accounts, onProfileChange: deps.onProfileChange });
  registerAccountDataRoutes(app, { auth, accountData });
  registerTagRoutes(app, { auth, tags: new RoomTagsService(accountData) });
  registerVoipRoutes(app, { requireUser: (req) => auth.requireUser(req), turn: config.turn });
  registerFilterRoutes(app, { auth, filters: deps.filters });
  registerPushRulesRoutes(app, { auth, pushRules: deps.pushRules });
  registerTypingRoutes(app, { auth, typing: deps.typing, isJoined });
  registerReceiptRoutes(app, { auth, accountData, receipts, isJoined });
  registerReadMarkerRoutes(app, { auth, accountData, receipts, isJoined });
  registerToDeviceRoutes(app, { auth, toDevice: deps.toDevice });
  registerSynapseAdminRoutes(app, { accounts, sharedSecret: new SharedSecretRegistration(config.registration.sharedSecret) });
}
