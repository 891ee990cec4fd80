import test from 'ava';
import {
  DEFAULT_ROOM_VERSION,
  SUPPORTED_ROOM_VERSIONS,
  getRoomVersionRules,
  isSupportedRoomVersion,
  type RoomVersionRules,
} from '../../src/core/room-versions.js';

test('supports every stable version 1 to 12, defaulting to 12 as rooms/_index recommends', (t) => {
  t.deepEqual([...SUPPORTED_ROOM_VERSIONS], ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12']);
  t.is(DEFAULT_ROOM_VERSION, '12');
  for (const id of SUPPORTED_ROOM_VERSIONS) {
    t.is(getRoomVersionRules(id)?.id, id);
    t.is(getRoomVersionRules(id)?.stability, 'stable');
    t.true(isSupportedRoomVersion(id));
  }
  for (const id of ['0', '13', '01', ' 1', '', 'constructor', 'org.matrix.msc1234']) {
    t.is(getRoomVersionRules(id), undefined, id);
    t.false(isSupportedRoomVersion(id), id);
  }
});

/** The versions (by number) where a field holds `true`, or each version's value. */
function column<K extends keyof RoomVersionRules>(field: K): Array<RoomVersionRules[K]> {
  return SUPPORTED_ROOM_VERSIONS.map((id) => getRoomVersionRules(id)![field]);
}
const from = (first: number) => SUPPORTED_ROOM_VERSIONS.map((id) => Number(id) >= first);
const upTo = (last: number) => SUPPORTED_ROOM_VERSIONS.map((id) => Number(id) <= last);

test('event formats: v1/v2 carry server-generated ids, v3 base64 hashes, v4+ URL-safe (rooms/v1, v3, v4 "Event IDs")', (t) => {
  t.deepEqual(column('eventIdFormat'), [
    'server-generated', 'server-generated', 'reference-hash',
    ...Array(9).fill('url-safe-reference-hash'),
  ]);
  t.deepEqual(column('eventIdServerMustSign'), upTo(2));
});

test('state resolution: v1 for room version 1, v2 for 2-11, v2.1 for 12', (t) => {
  t.deepEqual(column('stateResolution'), ['v1', ...Array(10).fill('v2'), 'v2.1']);
});

test('redaction algorithms: v1 (1-5), v6 (6-7), v8, v9 (9-10), v11 (11-12)', (t) => {
  t.deepEqual(column('redactionAlgorithm'), ['v1', 'v1', 'v1', 'v1', 'v1', 'v6', 'v6', 'v8', 'v9', 'v9', 'v11', 'v11']);
  t.deepEqual(column('redactionAuthRule'), upTo(2));
  t.deepEqual(column('redactsInContent'), from(11));
});

test('auth rule differences follow the changes each rooms/vN page lists', (t) => {
  t.deepEqual(column('aliasesAuthRule'), upTo(5), 'v6 removes rule 4');
  t.deepEqual(column('notificationsPowerLevels'), from(6));
  t.deepEqual(column('knocking'), from(7));
  t.deepEqual(column('restrictedJoinRule'), from(8));
  t.deepEqual(column('knockRestrictedJoinRule'), from(10));
  t.deepEqual(column('integerPowerLevels'), from(10));
  t.deepEqual(column('createContentHasCreator'), upTo(10));
  t.deepEqual(column('roomIdIsCreateEventHash'), from(12));
  t.deepEqual(column('createEventInAuthEvents'), upTo(11));
  t.deepEqual(column('additionalCreators'), from(12));
  t.deepEqual(column('creatorsHaveInfinitePower'), from(12));
});

test('signing-key validity from v5, strict canonical JSON from v6', (t) => {
  t.deepEqual(column('enforceKeyValidity'), from(5));
  t.deepEqual(column('strictCanonicalJson'), from(6));
});

test('the rule table cannot be changed by a caller', (t) => {
  const rules = getRoomVersionRules('11')!;
  t.throws(() => {
    (rules as { redactsInContent: boolean }).redactsInContent = false;
  });
  t.true(getRoomVersionRules('11')!.redactsInContent);
});
