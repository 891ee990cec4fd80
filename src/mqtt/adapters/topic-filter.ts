/**
 * MQTT topic filter matching with captures, for raw rules (MQTT 3.1.1 section 4.7 "Topic Names and
 * Topic Filters").
 */

/**
 * Matches `topic` against `filter`; returns the text matched by each wildcard in order (`+` one
 * level, `#` the remaining levels joined by `/`), or `undefined` when it does not match.
 * 1. `#` matches the parent level and any number of child levels [MQTT-4.7.1-2];
 * 2. `+` matches exactly one level, possibly empty [MQTT-4.7.1-3];
 * 3. a filter starting with a wildcard does not match topics starting with `$` [MQTT-4.7.2-1].
 */
export function matchTopicFilter(filter: string, topic: string): string[] | undefined {
  const f = filter.split('/');
  const t = topic.split('/');
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return undefined;
  const captures: string[] = [];
  for (let i = 0; i < f.length; i++) {
    const level = f[i]!;
    if (level === '#') {
      captures.push(t.slice(i).join('/'));
      return captures;
    }
    if (i >= t.length) return undefined;
    if (level === '+') captures.push(t[i]!);
    else if (level !== t[i]) return undefined;
  }
  return f.length === t.length ? captures : undefined;
}

/** Replaces `$1`, `$2`... with the captures of `matchTopicFilter` (`$0` is not used). */
export function substituteCaptures(template: string, captures: string[]): string {
  return template.replace(/\$(\d+)/g, (whole, n: string) => captures[Number(n) - 1] ?? whole);
}

/**
 * Whether `topic` has `root` as its whole first level and more levels after it (`homie/...`).
 * Every message passes each adapter: this looks at the first level without splitting the topic.
 */
export function startsWithLevel(topic: string, root: string): boolean {
  return topic.startsWith(root) && topic.charCodeAt(root.length) === 0x2f;
}
