/** Numbers and times as the page shows them. */

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return 'n/a';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

export function duration(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return `${h} h ${m} min`;
  if (m > 0) return `${m} min`;
  return `${Math.floor(seconds)} s`;
}

export function ago(ts: number | null, now = Date.now()): string {
  if (ts === null) return 'not since the gateway started';
  const s = Math.max(0, Math.round((now - ts) / 1000));
  return s < 5 ? 'just now' : `${duration(s)} ago`;
}

export function rate(n: number): string {
  return n >= 10 ? String(Math.round(n)) : n.toFixed(2);
}

export function value(v: number | string | boolean | null, unit?: string): string {
  if (v === null) return '-';
  if (typeof v === 'boolean') return v ? 'on' : 'off';
  return unit ? `${String(v)} ${unit}` : String(v);
}
