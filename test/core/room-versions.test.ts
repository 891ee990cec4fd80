import test from 'ava';
import {
  DEFAULT_ROOM_VERSION,
  SUPPORTED_ROOM_VERSIONS,
  getRoomVersionRules,
  isSupportedRoomVersion,
} from '../../src/core/room-versions.js';

test('supports exactly 10, 11 and 12, defaulting to 11', (t) => {
  t.deepEqual([...SUPPORTED_ROOM_VERSIONS], ['10', '11', '12']);
  t.is(DEFAULT_ROOM_VERSION, '11');
  for (const id of SUPPORTED_ROOM_VERSIONS) {
    t.is(getRoomVersionRules(id)?.id, id);
    t.true(isSupportedRoomVersion(id));
  }
  for (const id of ['1', '9', '13', '', 'constructor', 'org.matrix.msc1234']) {
    t.is(getRoomVersionRules(id), undefined, id);
    t.false(isSupportedRoomVersion(id), id);
  }
});

test('the per-version differences follow rooms/v10, v11 and v12', (t) => {
  t.deepEqual(getRoomVersionRules('10'), {
    id: '10', stability: 'stable', stateResolution: 'v2', redactionAlgorithm: 'v9', redactsInContent: false,
    createContentHasCreator: true, roomIdIsCreateEventHash: false, createEventInAuthEvents: true,
    additionalCreators: false, creatorsHaveInfinitePower: false, integerPowerLevels: true, knockRestrictedJoinRule: true,
  });
  t.deepEqual(getRoomVersionRules('11'), {
    id: '11', stability: 'stable', stateResolution: 'v2', redactionAlgorithm: 'v11', redactsInContent: true,
    createContentHasCreator: false, roomIdIsCreateEventHash: false, createEventInAuthEvents: true,
    additionalCreators: false, creatorsHaveInfinitePower: false, integerPowerLevels: true, knockRestrictedJoinRule: true,
  });
  t.deepEqual(getRoomVersionRules('12'), {
    id: '12', stability: 'stable', stateResolution: 'v2.1', redactionAlgorithm: 'v11', redactsInContent: true,
    createContentHasCreator: false, roomIdIsCreateEventHash: true, createEventInAuthEvents: false,
    additionalCreators: true, creatorsHaveInfinitePower: true, integerPowerLevels: true, knockRestrictedJoinRule: true,
  });
});

test('the rule table cannot be changed by a caller', (t) => {
  const rules = getRoomVersionRules('11')!;
  t.throws(() => {
    (rules as { redactsInContent: boolean }).redactsInContent = false;
  });
  t.true(getRoomVersionRules('11')!.redactsInContent);
});
