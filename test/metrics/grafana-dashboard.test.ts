/** docs/grafana-dashboard.json queries only series the gateway exposes, and every panel has Prometheus targets. */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { GatewayMetrics } from '../../src/metrics/gateway-metrics.js';
import { createBrokerStats } from '../../src/mqtt/broker/stats.js';

interface Panel {
  type: string;
  title: string;
  datasource?: { type: string };
  targets?: { expr: string }[];
}

test('the dashboard uses the exposed series', async (t) => {
  const dashboard = JSON.parse(readFileSync(join(import.meta.dirname, '../../docs/grafana-dashboard.json'), 'utf8')) as { uid: string; panels: Panel[] };
  t.is(dashboard.uid, 'hearth-gateway');
  const metrics = new GatewayMetrics();
  metrics.watch({
    storageDir: join(tmpdir(), 'hearth-dashboard-no-dir'),
    sync: { stats: { wakeups: 0, parked: 0 } },
    mqtt: { stats: createBrokerStats, clientCount: () => 0 },
    bridge: { stats: { messages: 0, unknownTopics: 0, malformed: 0, readings: 0, failures: 0, commandsPublished: 0, commandsRefused: 0, foreignClaims: 0, valuesIgnored: 0 }, pendingRoomWork: 0 },
    telemetry: { journalBytesWritten: 0 },
    federation: { destinations: () => [], streamHead: () => 0 },
  });
  const { body } = await metrics.render();
  const exposed = new Set([...body.matchAll(/^# TYPE (\S+) (\S+)$/gm)].flatMap(([, name, type]) => (type === 'histogram' ? [`${name}_bucket`, `${name}_count`, `${name}_sum`] : [name!])));
  const panels = dashboard.panels.filter((p) => p.type !== 'row');
  t.true(panels.length > 10);
  for (const panel of panels) {
    t.is(panel.datasource?.type, 'prometheus', panel.title);
    t.true((panel.targets ?? []).length > 0, `${panel.title} has targets`);
    for (const { expr } of panel.targets ?? []) {
      for (const [name] of expr.matchAll(/hearth_[a-z0-9_]+/g)) t.true(exposed.has(name), `${panel.title}: ${name} is exposed`);
    }
  }
});
