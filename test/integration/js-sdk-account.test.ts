/**
 * Profiles, account data, devices, push rules and /notifications, history visibility with /context, and deactivation
 * with erasure, through matrix-js-sdk 37.5.0 clients against a running Hearth (issue 13, "What the
 * README promises, the tests prove"). Spec: client-server "Profiles", "Client Config", "Device
 * Management", "Push Rules: API", "Listing Notifications", "Room History Visibility", "GET /context", "Account
 * deactivation" (`erase`).
 */
import './helpers/sdk-quiet.js'; // first: before the SDK binds its loggers
import test from 'ava';
import * as sdk from 'matrix-js-sdk';
import { shareHearth } from './helpers/shared-hearth.js';
import { registerUser, request, type RegisteredUser } from './helpers/http.js';
import { liveMessages, loginWithSdk, startSdkClient, waitFor } from './helpers/sdk.js';

declare module 'matrix-js-sdk/lib/@types/event.js' {
  interface AccountDataEvents {
    'org.hearth.test.garden': { beds: string[] };
  }
}

const shared = shareHearth(test);

/** A registered user and a started client; `timelineSupport` lets the client jump to events (/context), as Element's does. */
async function sdkUser(name: string): Promise<{ account: RegisteredUser; client: sdk.MatrixClient }> {
  const account = await registerUser(shared.server.baseUrl, name, `pw-${name}-account`);
  const client = await startSdkClient(shared.server.baseUrl, account, {}, { timelineSupport: true });
  shared.clients.push(client);
  return { account, client };
}

/** The UIA password stage for `account` in `session` (client-server "Password-based"). */
function passwordStage(account: RegisteredUser, session?: string): sdk.AuthDict {
  return { type: 'm.login.password', identifier: { type: 'm.id.user', user: account.userId }, password: account.password, session };
}

/** Runs `attempt` without auth, then with the password in the session the 401 named (an app's UIA loop for one stage). */
async function withPassword<T>(account: RegisteredUser, attempt: (auth?: sdk.AuthDict) => Promise<T>): Promise<T> {
  try {
    return await attempt();
  } catch (err) {
    if (!(err instanceof sdk.MatrixError) || err.httpStatus !== 401) throw err;
    return attempt(passwordStage(account, err.data.session as string));
  }
}

test('a display name set through the SDK: another client shows it for the member and the profile lookup returns it', async (t) => {
  const { account: aliceAccount, client: alice } = await sdkUser('alice-profile');
  const { client: bob } = await sdkUser('bob-profile');
  const { room_id: roomId } = await alice.createRoom({ preset: sdk.Preset.PublicChat });
  await bob.joinRoom(roomId);
  await alice.setDisplayName('Alice in the kitchen');
  await waitFor(() => bob.getRoom(roomId)?.getMember(aliceAccount.userId)?.name === 'Alice in the kitchen', "Alice's new name at Bob");
  const memberEvent = bob.getRoom(roomId)!.getMember(aliceAccount.userId)!.events.member!;
  t.is(memberEvent.getContent().displayname, 'Alice in the kitchen');
  t.is(memberEvent.getPrevContent().membership, 'join', 'a profile change, not a new join');
  t.deepEqual(await bob.getProfileInfo(aliceAccount.userId), { displayname: 'Alice in the kitchen' });
  const { event_id } = await alice.sendTextMessage(roomId, 'dinner is ready');
  await waitFor(() => bob.getRoom(roomId)?.findEventById(event_id) !== undefined, "Alice's message at Bob");
  t.is(bob.getRoom(roomId)!.findEventById(event_id)!.sender?.name, 'Alice in the kitchen');
});

test('account data set on one device reaches the user\'s other device through /sync, and nobody else', async (t) => {
  const { account, client: phone } = await sdkUser('alice-data');
  const laptop = await startSdkClient(shared.server.baseUrl, await loginWithSdk(shared.server.baseUrl, 'alice-data', account.password));
  shared.clients.push(laptop);
  await phone.setAccountData('org.hearth.test.garden', { beds: ['tomatoes', 'basil'] });
  await waitFor(() => laptop.getAccountData('org.hearth.test.garden') !== undefined, 'the account data on the laptop');
  t.deepEqual(laptop.getAccountData('org.hearth.test.garden')!.getContent(), { beds: ['tomatoes', 'basil'] });
  await laptop.setAccountData('org.hearth.test.garden', { beds: ['beans'] });
  await waitFor(() => phone.getAccountData('org.hearth.test.garden')?.getContent().beds[0] === 'beans', 'the change on the phone');
  t.deepEqual(await phone.getAccountDataFromServer('org.hearth.test.garden'), { beds: ['beans'] });
  const { client: bob } = await sdkUser('bob-data');
  t.is(bob.getAccountData('org.hearth.test.garden'), undefined);
  t.is(await bob.getAccountDataFromServer('org.hearth.test.garden'), null, "Bob has none of Alice's");
});

test('devices through the SDK: listed, renamed, deleted with the password; the deleted device is logged out', async (t) => {
  const { account, client: phone } = await sdkUser('alice-devices');
  const laptopCreds = await loginWithSdk(shared.server.baseUrl, 'alice-devices', account.password);
  const laptop = await startSdkClient(shared.server.baseUrl, laptopCreds);
  shared.clients.push(laptop);
  const ids = (await phone.getDevices()).devices.map((d) => d.device_id).sort();
  t.deepEqual(ids, [account.deviceId, laptopCreds.deviceId].sort());

  await phone.setDeviceDetails(laptopCreds.deviceId, { display_name: 'Kitchen laptop' });
  const renamed = (await laptop.getDevices()).devices.find((d) => d.device_id === laptopCreds.deviceId)!;
  t.is(renamed.display_name, 'Kitchen laptop');
  t.is(typeof renamed.last_seen_ts, 'number');

  const wrong = await t.throwsAsync(phone.deleteDevice(laptopCreds.deviceId, passwordStage({ ...account, password: 'wrong' })), { instanceOf: sdk.MatrixError });
  t.is(wrong?.httpStatus, 401);
  t.is(wrong?.errcode, 'M_FORBIDDEN');
  await withPassword(account, (auth) => phone.deleteDevice(laptopCreds.deviceId, auth));
  t.deepEqual((await phone.getDevices()).devices.map((d) => d.device_id), [account.deviceId]);
  laptop.stopClient();
  const loggedOut = await t.throwsAsync(laptop.getDevices(), { instanceOf: sdk.MatrixError });
  t.is(loggedOut?.httpStatus, 401);
  t.is(loggedOut?.errcode, 'M_UNKNOWN_TOKEN');
});

test('push rules through the SDK: a keyword rule added, read back, disabled, deleted; it decides what highlights', async (t) => {
  const { client: alice } = await sdkUser('alice-push');
  const { client: bob } = await sdkUser('bob-push');
  const { room_id: roomId } = await alice.createRoom({ preset: sdk.Preset.PublicChat });
  await bob.joinRoom(roomId);
  const actions = [sdk.PushRuleActionName.Notify, { set_tweak: sdk.TweakName.Highlight, value: true }];
  await bob.addPushRule('global', sdk.PushRuleKind.ContentSpecific, 'boiler', { pattern: 'boiler', actions } as never);
  const rules = await bob.getPushRules();
  const boiler = rules.global.content!.find((r) => r.rule_id === 'boiler')!;
  t.deepEqual({ pattern: boiler.pattern, actions: boiler.actions, enabled: boiler.enabled, default: boiler.default }, { pattern: 'boiler', actions, enabled: true, default: false });

  // The server applies it: the message is a highlight in Bob's unread counts.
  const highlights = () => bob.getRoom(roomId)?.getUnreadNotificationCount(sdk.NotificationCountType.Highlight) ?? 0;
  await alice.sendTextMessage(roomId, 'the boiler is making noises');
  await waitFor(() => highlights() === 1, 'the keyword highlight at Bob');
  await bob.setPushRuleEnabled('global', sdk.PushRuleKind.ContentSpecific, 'boiler', false);
  t.false((await bob.getPushRules()).global.content!.find((r) => r.rule_id === 'boiler')!.enabled);
  const { event_id: quiet } = await alice.sendTextMessage(roomId, 'the boiler is fine now');
  await waitFor(() => bob.getRoom(roomId)?.findEventById(quiet) !== undefined, 'the second message at Bob');
  await waitFor(() => bob.getRoom(roomId)!.getUnreadNotificationCount(sdk.NotificationCountType.Total) === 2, 'both messages counted');
  t.is(highlights(), 1, 'a disabled rule highlights nothing');
  await bob.deletePushRule('global', sdk.PushRuleKind.ContentSpecific, 'boiler');
  t.false((await bob.getPushRules()).global.content!.some((r) => r.rule_id === 'boiler'));
  const missing = await t.throwsAsync(bob.setPushRuleEnabled('global', sdk.PushRuleKind.ContentSpecific, 'boiler', true), { instanceOf: sdk.MatrixError });
  t.is(missing?.httpStatus, 404);
  t.is(missing?.errcode, 'M_NOT_FOUND');
});

test('history visibility "joined": a later member\'s client back-paginates only from its join; /context of an earlier event is refused', async (t) => {
  const { client: alice } = await sdkUser('alice-history');
  const { client: bob } = await sdkUser('bob-history');
  const { room_id: roomId } = await alice.createRoom({
    preset: sdk.Preset.PublicChat,
    initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'joined' } }],
  });
  const { event_id: before } = await alice.sendTextMessage(roomId, 'said before Bob came');
  await bob.joinRoom(roomId);
  const { event_id: after } = await alice.sendTextMessage(roomId, 'said after Bob came');
  await waitFor(() => bob.getRoom(roomId)?.findEventById(after) !== undefined, 'the later message at Bob');

  const room = bob.getRoom(roomId)!;
  // Page back as far as the server lets Bob see (bounded: a server handing out tokens forever fails the test).
  for (let page = 0; page < 10 && room.oldState.paginationToken !== null; page++) await bob.scrollback(room, 30);
  t.is(room.oldState.paginationToken, null, 'the server said where Bob\'s history starts');
  t.deepEqual(liveMessages(room).map((e) => e.getContent().body), ['said after Bob came'], 'nothing from before his join');
  t.is(room.findEventById(before), undefined);

  // The SDK's jump to an event goes through /context: the later event with its surroundings, the
  // earlier one refused as if it did not exist.
  const timeline = await bob.getEventTimeline(room.getUnfilteredTimelineSet(), after);
  t.truthy(timeline?.getEvents().some((e) => e.getId() === after));
  t.false(timeline!.getEvents().some((e) => e.getId() === before));
  const refused = await t.throwsAsync(bob.getEventTimeline(room.getUnfilteredTimelineSet(), before), { instanceOf: sdk.MatrixError });
  t.is(refused?.httpStatus, 404);
  t.is(refused?.errcode, 'M_NOT_FOUND');

  // Alice, who was there, sees both through the same call.
  const aliceTimeline = await alice.getEventTimeline(alice.getRoom(roomId)!.getUnfilteredTimelineSet(), before);
  t.truthy(aliceTimeline?.getEvents().some((e) => e.getId() === before));
});

test('deactivation with erase through the SDK: the user leaves; who joins later sees the messages redacted, who was there keeps them', async (t) => {
  const { client: alice } = await sdkUser('alice-erase');
  const { account: bobAccount, client: bob } = await sdkUser('bob-erase');
  const { room_id: roomId } = await alice.createRoom({ preset: sdk.Preset.PublicChat });
  await bob.joinRoom(roomId);
  const { event_id: secret } = await bob.sendTextMessage(roomId, "bob's phone number is 555-0100");
  await waitFor(() => alice.getRoom(roomId)?.findEventById(secret) !== undefined, "Bob's message at Alice");

  bob.stopClient();
  await withPassword(bobAccount, (auth) => bob.deactivateAccount(auth, true));
  await waitFor(() => alice.getRoom(roomId)?.getMember(bobAccount.userId)?.membership === sdk.KnownMembership.Leave, "Bob's leave at Alice");
  t.is((await alice.fetchRoomEvent(roomId, secret)).content?.body, "bob's phone number is 555-0100", 'Alice was there: unredacted');

  const { client: carol } = await sdkUser('carol-erase');
  await carol.joinRoom(roomId);
  const seen = await carol.fetchRoomEvent(roomId, secret);
  t.deepEqual(seen.content, {}, 'Carol joined after the erasure: the message comes empty');
  t.is(seen.sender, bobAccount.userId);
  const login = await t.throwsAsync(loginWithSdk(shared.server.baseUrl, 'bob-erase', bobAccount.password), { instanceOf: sdk.MatrixError });
  t.is(login?.httpStatus, 403);
  t.is(login?.errcode, 'M_USER_DEACTIVATED');
});

test('the SDK\'s notification panel (/notifications, highlights only) pages through the mentions of Bob, newest first', async (t) => {
  const { client: alice } = await sdkUser('alice-notif');
  const { account: bobAccount, client: bob } = await sdkUser('bob-notif');
  const { room_id: roomId } = await alice.createRoom({ preset: sdk.Preset.PublicChat, name: 'Hall' });
  await bob.joinRoom(roomId);
  const mentions: string[] = [];
  for (let i = 1; i <= 3; i++) {
    await alice.sendTextMessage(roomId, `plain message ${i}`);
    mentions.push((await alice.sendMessage(roomId, { msgtype: sdk.MsgType.Text, body: `mention ${i}`, 'm.mentions': { user_ids: [bobAccount.userId] } } as never)).event_id);
  }

  // As Element's notification panel builds it: a timeline set of its own, paginated backwards.
  const panel = new sdk.EventTimelineSet(undefined, { timelineSupport: true, pendingEvents: false }, bob);
  bob.setNotifTimelineSet(panel);
  for (let page = 0; page < 5; page++) {
    if (!(await bob.paginateEventTimeline(panel.getLiveTimeline(), { backwards: true, limit: 2 }))) break;
  }
  // Every mention, none of the plain messages. (The SDK files a room-less set's pages in its own
  // order; the server's order, newest first and paged by next_token, is checked over HTTP below.)
  const shown = panel.getLiveTimeline().getEvents();
  t.deepEqual(shown.map((e) => e.getId()).sort(), [...mentions].sort());
  t.deepEqual(shown.map((e) => e.getContent().body).sort(), ['mention 1', 'mention 2', 'mention 3']);
  const page = (from?: string) =>
    request(shared.server.baseUrl, 'GET', `/_matrix/client/v3/notifications?limit=2&only=highlight${from ? `&from=${from}` : ''}`, { token: bobAccount.accessToken });
  const first = await page();
  t.deepEqual(first.body.notifications.map((n: { event: { event_id: string } }) => n.event.event_id), [mentions[2], mentions[1]]);
  const second = await page(first.body.next_token);
  t.deepEqual(second.body.notifications.map((n: { event: { event_id: string } }) => n.event.event_id), [mentions[0]]);
  t.is(second.body.next_token, undefined, 'no further page');
  t.true(shown.every((e) => e.getRoomId() === roomId && e.getSender() === alice.getUserId()));
  t.true(shown.every((e) => bob.getPushActionsForEvent(e)?.tweaks.highlight === true), 'each a highlight by the SDK\'s own rules too');
});
