/**
 * The `value_template` forms Hearth understands without a Jinja engine: the common ones that pick a
 * value out of the payload, optionally converted.
 *   {{ value }}                        the payload as received
 *   {{ value_json.a.b }}               a path into a JSON payload (dotted)
 *   {{ value_json['a']["b"] }}         the same in subscript form (mixable, integer indexes allowed)
 * each optionally followed by filters `| float`, `| int`, `| round(n)`, `| lower`, `| upper`.
 * Anything else (`{% if %}`, arithmetic, `states(...)`) is reported as unsupported.
 */

export interface ValueTemplate {
  /** Empty: `value` itself; otherwise the path into `value_json`. */
  path: (string | number)[];
  fromJson: boolean;
  filters: Filter[];
}

type Filter = { name: 'float' | 'int' | 'lower' | 'upper' } | { name: 'round'; digits: number };

const WHOLE = /^\{\{\s*(value_json|value)((?:\.[A-Za-z_][A-Za-z0-9_]*|\[\s*(?:'[^']*'|"[^"]*"|\d+)\s*\])*)\s*((?:\|\s*[a-z]+(?:\(\s*\d*\s*\))?\s*)*)\}\}$/;
const ACCESSOR = /\.([A-Za-z_][A-Za-z0-9_]*)|\[\s*(?:'([^']*)'|"([^"]*)"|(\d+))\s*\]/g;
const FILTER = /\|\s*([a-z]+)(?:\(\s*(\d*)\s*\))?/g;

/** Parses a template; `undefined` when it is not one of the supported forms. */
export function compileValueTemplate(template: string): ValueTemplate | undefined {
  const m = WHOLE.exec(template.trim());
  if (!m) return undefined;
  const fromJson = m[1] === 'value_json';
  const path: (string | number)[] = [];
  for (const a of m[2]!.matchAll(ACCESSOR)) {
    path.push(a[4] !== undefined ? Number(a[4]) : (a[1] ?? a[2] ?? a[3])!);
  }
  if (!fromJson && path.length > 0) return undefined;
  const filters: Filter[] = [];
  for (const f of m[3]!.matchAll(FILTER)) {
    const name = f[1]!;
    if (name === 'round') filters.push({ name, digits: f[2] ? Number(f[2]) : 0 });
    else if (name === 'float' || name === 'int' || name === 'lower' || name === 'upper') filters.push({ name });
    else return undefined;
  }
  return { path, fromJson, filters };
}

/**
 * Applies a compiled template to a payload: `text` is the payload as text, `json` its decoded form.
 * Returns `undefined` when the path is missing (HA logs and keeps the old state in that case).
 */
export function applyValueTemplate(t: ValueTemplate, text: string, json: unknown): unknown {
  let v: unknown = t.fromJson ? json : text;
  for (const step of t.path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[step];
  }
  for (const f of t.filters) v = applyFilter(f, v);
  return v;
}

function applyFilter(f: Filter, v: unknown): unknown {
  switch (f.name) {
    case 'float':
      return Number(v);
    case 'int':
      return Math.trunc(Number(v));
    case 'round': {
      const scale = 10 ** f.digits;
      return Math.round(Number(v) * scale) / scale;
    }
    case 'lower':
      return String(v).toLowerCase();
    case 'upper':
      return String(v).toUpperCase();
  }
}
