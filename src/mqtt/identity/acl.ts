/**
 * Who may publish and subscribe to what: a pluggable policy, with a default that knows the
 * device-naming conventions Hearth bridges (docs/mqtt.md "ACL" lists the rules with examples).
 * Pure functions of the identity and the topic: no I/O, so every rule is unit-tested.
 */
import type { MqttIdentity } from './identity.js';

export interface AclPolicy {
  /** May `identity` publish to the topic name `topic` (no wildcards, MQTT 3.1.1 section 4.7)? */
  canPublish(identity: MqttIdentity, topic: string): boolean;
  /** May `identity` subscribe to the topic filter `topicFilter` (may contain `+`, `#`)? */
  canSubscribe(identity: MqttIdentity, topicFilter: string): boolean;
}

export interface DefaultAclOptions {
  /** More permissions granted on top of the default rules (e.g. topics the bridge learns). */
  extra?: AclPolicy;
}

/** Topics under this prefix are the broker's own (refused publishes are routed there). */
export const RESERVED_TOPIC_PREFIX = '$hearth/';

/**
 * True when every topic `filter` can match is also matched by `pattern`, i.e. the subscription
 * stays inside what the pattern allows (MQTT 3.1.1 section 4.7.1 wildcard semantics):
 * 1. a pattern level `#` covers the rest, including the parent level itself [MQTT-4.7.1-2];
 * 2. a filter level `#` is only covered by a pattern `#` at the same level;
 * 3. a pattern level `+` covers any single filter level, `+` included [MQTT-4.7.1-3];
 * 4. a literal pattern level covers only the same literal;
 * 5. both must end together.
 */
export function filterWithin(filter: string, pattern: string): boolean {
  const f = filter.split('/');
  const p = pattern.split('/');
  for (let i = 0; i < p.length; i++) {
    const level = p[i]!;
    if (level === '#') return true;
    if (i >= f.length) return false;
    const fl = f[i]!;
    if (fl === '#') return false;
    if (level !== '+' && level !== fl) return false;
  }
  return f.length === p.length;
}

/**
 * Command topics a device listens on, as topic filters (`n` = device name):
 * Zigbee2MQTT `/set` with JSON or `/set/<attribute>`, Homie 5 property `/set`, Tasmota `cmnd/`,
 * Home Assistant MQTT `command_topic`s under the device's own base topic, and HA's birth message.
 */
function deviceCommandFilters(n: string): string[] {
  return [
    `zigbee2mqtt/${n}/set`,
    `zigbee2mqtt/${n}/set/#`,
    `homie/5/${n}/+/+/set`,
    `cmnd/${n}/#`,
    `${n}/#`,
    'homeassistant/status',
  ];
}

/**
 * An HA discovery object or node id belongs to device `n` when it is `n` or starts with `n_`
 * (`kitchen-sensor_temperature`). Plain prefixes are not enough: device `kitchen` would own
 * `kitchenette`'s entities.
 */
function ownsDiscoveryId(n: string, id: string | undefined): boolean {
  return id !== undefined && (id === n || id.startsWith(`${n}_`));
}

/**
 * Whether device `n` may publish to `topic`, one convention per top level:
 * 1. `<n>` and `<n>/...`: the device's own base topic (HA state topics; a device named like a
 *    convention root, e.g. `zigbee2mqtt`, therefore owns that whole tree: the Z2M bridge itself);
 * 2. `homeassistant/<component>/[<node_id>/]<object_id>/...` where node_id or object_id is owned;
 *    `homeassistant/status` belongs to Home Assistant, not to devices;
 * 3. `zigbee2mqtt/<n>` and below, except the command topics `/set`, `/set/...`;
 * 4. `homie/5/<n>/...` except property commands ending in `/set`;
 * 5. Tasmota `tele/<n>/...` and `stat/<n>/...`.
 */
function devicePublishAllowed(n: string, topic: string): boolean {
  // Every publish passes here: the common cases are decided without splitting the topic.
  const firstEnd = levelEnd(topic, 0);
  const root = topic.slice(0, firstEnd);
  if (root === n) return true;
  if (root === 'zigbee2mqtt') {
    const secondEnd = levelEnd(topic, firstEnd + 1);
    if (firstEnd === topic.length || topic.slice(firstEnd + 1, secondEnd) !== n) return false;
    return secondEnd === topic.length || topic.slice(secondEnd + 1, levelEnd(topic, secondEnd + 1)) !== 'set';
  }
  const l = topic.split('/');
  switch (root) {
    case 'homeassistant':
      return l.length >= 4 && (ownsDiscoveryId(n, l[2]) || (l.length >= 5 && ownsDiscoveryId(n, l[3])));
    case 'homie':
      return l[1] === '5' && l[2] === n && l.length >= 4 && l[l.length - 1] !== 'set';
    case 'tele':
    case 'stat':
      return l[1] === n && l.length >= 3;
    default:
      return false;
  }
}

/** Where the topic level starting at `from` ends (the next `/`, or the end of the topic). */
function levelEnd(topic: string, from: number): number {
  const slash = topic.indexOf('/', from);
  return slash < 0 ? topic.length : slash;
}

/**
 * Whether device `n` may receive commands on `topic`, i.e. a topic within its command filters: the
 * bridge keeps only such command topics from what `n` announces, so a device cannot make the
 * gateway publish people's commands onto another device's topics.
 */
export function deviceMayReceiveCommands(n: string, topic: string): boolean {
  return deviceCommandFilters(n).some((f) => filterWithin(topic, f));
}

/**
 * The default policy:
 * - devices publish their own topics (devicePublishAllowed) and subscribe to their command topics;
 * - Matrix users (access-token login) subscribe to anything and publish nothing here: they command
 *   devices through rooms, or on a device's command topic when its room's power levels let them,
 *   which the broker asks the bridge (`EmbeddedBrokerDeps.authorizeUserCommand`);
 * - anonymous clients exist only when the admin allowed them, for an open LAN broker: everything;
 * - nobody touches the broker's reserved `$hearth/` topics.
 */
export function createDefaultAclPolicy(opts: DefaultAclOptions = {}): AclPolicy {
  const { extra } = opts;
  return {
    canPublish(identity, topic) {
      if (topic.startsWith('$')) return false;
      if (extra?.canPublish(identity, topic)) return true;
      switch (identity.kind) {
        case 'device':
          return devicePublishAllowed(identity.deviceName, topic);
        case 'user':
          return false;
        case 'anonymous':
          return true;
      }
    },
    canSubscribe(identity, topicFilter) {
      if (topicFilter.startsWith(RESERVED_TOPIC_PREFIX)) return false;
      if (extra?.canSubscribe(identity, topicFilter)) return true;
      switch (identity.kind) {
        case 'device':
          return deviceCommandFilters(identity.deviceName).some((f) => filterWithin(topicFilter, f));
        case 'user':
        case 'anonymous':
          return true;
      }
    },
  };
}
