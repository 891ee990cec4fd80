/**
 * Events whose hashes and ids the core tests check against values computed outside this code base
 * with the spec's reference procedure (Python's json.dumps(sort_keys=True, separators=(',', ':'),
 * ensure_ascii=False), hashlib.sha256 and base64, over redacted forms written out by hand): shared
 * by hashes.test.ts and event-builder.test.ts so both check the same bytes.
 */
import type { PduTemplate } from '../../src/core/event-builder.js';

/** A room version 11 message; content hash `f1j4AP8ZpiExuJXbv6sGL2duUTIFWXqR0XUUOO2UJfA`. */
export const MESSAGE_V11: PduTemplate = {
  auth_events: ['$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'],
  content: { body: '22.5 °C', msgtype: 'm.text' },
  depth: 7,
  origin_server_ts: 1720000000000,
  prev_events: ['$bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'],
  room_id: '!kitchen:hearth.local',
  sender: '@thermostat:hearth.local',
  type: 'm.room.message',
  unsigned: { age_ts: 1 },
};

/** A room version 12 create event (no `room_id`: the room id is derived from its event id). */
export const CREATE_V12: PduTemplate = {
  auth_events: [],
  content: { room_version: '12', additional_creators: ['@bob:hearth.local'], 'm.federate': false },
  depth: 1,
  origin_server_ts: 1720000000000,
  prev_events: [],
  sender: '@alice:hearth.local',
  state_key: '',
  type: 'm.room.create',
};
