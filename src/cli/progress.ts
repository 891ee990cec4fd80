/**
 * A one-line progress display for long commands (`hearth backup`, `hearth restore`): on a terminal
 * the line is rewritten in place at most every 100 ms; when stderr is not a terminal (a script, a
 * cron job, a log) nothing is printed, so logs do not fill with carriage returns.
 */
export interface ProgressLine {
  update(text: string): void;
  /** Prints the last state and ends the line (terminal only). */
  done(text?: string): void;
}

export function progressLine(stream: NodeJS.WriteStream = process.stderr): ProgressLine {
  if (!stream.isTTY) return { update: () => undefined, done: () => undefined };
  let last = 0;
  let latest = '';
  const draw = (text: string) => stream.write(`\r\x1b[K${text}`);
  return {
    update(text) {
      latest = text;
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      draw(text);
    },
    done(text) {
      if (text === undefined && latest === '') return;
      draw(text ?? latest);
      stream.write('\n');
    },
  };
}

/** 1536 -> "1.5 KB". */
export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}
