/** The push gateway body (push gateway API `POST /_matrix/push/v1/notify`), built purely. */
import test from 'ava';
import { notificationBody, rejectedPushkeys } from '../../src/push/notification-payload.js';

const event = { eventId: '$e', roomId: '!r:x', type: 'm.room.message', sender: '@a:x', content: { msgtype: 'm.text', body: 'hi' } };
const pusher = { appId: 'app', pushkey: 'key', pushkeyTs: 1700000000, data: { url: 'https://gw/_matrix/push/v1/notify', custom: 1 } };

test('full format: event fields, names, counts, high priority with a sound, data without url', (t) => {
  const body = notificationBody(event, { userId: '@b:x', senderDisplayName: 'Alice', roomName: 'Hall', roomAlias: '#hall:x', unread: 2, tweaks: { sound: 'default' } }, pusher);
  t.deepEqual(body, {
    notification: {
      event_id: '$e',
      room_id: '!r:x',
      type: 'm.room.message',
      sender: '@a:x',
      sender_display_name: 'Alice',
      room_name: 'Hall',
      room_alias: '#hall:x',
      content: { msgtype: 'm.text', body: 'hi' },
      counts: { unread: 2 },
      prio: 'high',
      devices: [{ app_id: 'app', pushkey: 'key', pushkey_ts: 1700000000, data: { custom: 1 }, tweaks: { sound: 'default' } }],
    },
  });
});

test('event_id_only: no content or sender; zero counts omitted; low priority without sound or highlight', (t) => {
  const body = notificationBody(event, { userId: '@b:x', unread: 0, tweaks: {} }, { ...pusher, data: { url: 'u', format: 'event_id_only' } }) as any;
  t.deepEqual(Object.keys(body.notification).sort(), ['counts', 'devices', 'event_id', 'prio', 'room_id']);
  t.deepEqual(body.notification.counts, {});
  t.is(body.notification.prio, 'low');
  t.deepEqual(body.notification.devices[0].data, { format: 'event_id_only' });
});

test('member events say whether the recipient is their target; highlights are high priority', (t) => {
  const invite = { ...event, type: 'm.room.member', stateKey: '@b:x', content: { membership: 'invite' } };
  const body = notificationBody(invite, { userId: '@b:x', unread: 1, tweaks: { highlight: true } }, pusher) as any;
  t.true(body.notification.user_is_target);
  t.is(body.notification.prio, 'high');
  t.false((notificationBody(invite, { userId: '@c:x', unread: 1, tweaks: {} }, pusher) as any).notification.user_is_target);
});

test('rejected pushkeys are read leniently from the gateway answer', (t) => {
  t.deepEqual(rejectedPushkeys({ rejected: ['a', 3, 'b'] }), ['a', 'b']);
  t.deepEqual(rejectedPushkeys({}), []);
  t.deepEqual(rejectedPushkeys(null), []);
  t.deepEqual(rejectedPushkeys('x'), []);
});
