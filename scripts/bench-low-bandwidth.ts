/**
 * `node --import tsx scripts/bench-low-bandwidth.ts [--write]` (part of `make bench`): the bytes of
 * the low-bandwidth Client-Server API (MSC3079's CBOR part, issue 12 "Thin uplinks"). One gateway,
 * the same chat session (test/integration/helpers/wire-formats.ts) in JSON, CBOR, and CBOR with the
 * integer key table; reported: an initial /sync of the room at the end, the incremental /sync that
 * brings five messages and a topic change, and one send (request and answer bodies; HTTP headers
 * are the same in every format and not counted). Bytes, not time: the figures do not depend on the
 * machine's load, and each format is its own baseline against JSON.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chatSession, Wire, type SessionOutcome, type WireFormat } from '../test/integration/helpers/wire-formats.js';
import { startHearth } from './lib/processes.js';
import { markdownTable, writeIntoPerformanceDoc, type ResultRow } from './lib/report.js';

const { values: args } = parseArgs({ options: { write: { type: 'boolean', default: false } } });

const hearth = await startHearth({ build: 'tsx' });
const outcomes = new Map<WireFormat, SessionOutcome>();
try {
  for (const format of ['json', 'cbor', 'cbor-keys'] as const) outcomes.set(format, await chatSession(new Wire(hearth.clientUrl, format), format.replace('-', '')));
} finally {
  await hearth.server.stop();
}

const json = outcomes.get('json')!.bytes;
const rows: ResultRow[] = [];
const parts = [
  ['initialSync', 'initial /sync at the end of the session (the room: state and recent timeline)'],
  ['incrementalSync', 'incremental /sync (5 messages and a topic change)'],
  ['send', 'one message sent (PUT body + answer)'],
] as const;
for (const [part, label] of parts) {
  rows.push({ section: 'Low bandwidth', metric: `${label}, JSON`, unit: 'B', hearth: json[part], digits: 0 });
  rows.push({ section: 'Low bandwidth', metric: `${label}, CBOR`, unit: 'B', hearth: outcomes.get('cbor')!.bytes[part], baseline: json[part], baselineName: 'JSON', digits: 0 });
  rows.push({ section: 'Low bandwidth', metric: `${label}, CBOR with integer keys`, unit: 'B', hearth: outcomes.get('cbor-keys')!.bytes[part], baseline: json[part], baselineName: 'JSON', digits: 0 });
}
console.log(markdownTable(rows));
if (args.write) {
  const doc = resolve(import.meta.dirname, '../docs/performance.md');
  writeIntoPerformanceDoc(doc, rows, 'node --import tsx scripts/bench-low-bandwidth.ts --write', `Node ${process.version}`, 'bench-low-bandwidth');
  process.stderr.write('bench-low-bandwidth: wrote docs/performance.md\n');
}
