/**
 * A sensor read by running a command (a vendor tool, a script, `vcgencmd measure_temp`): its stdout
 * is parsed for a number, the first one, or the first capture group of a configured pattern.
 *
 * The command runs without a shell (execFile: argv as configured, nothing interpolated) unless
 * `shell` is set. It is killed with SIGKILL at the timeout (a hung tool must not pile up one process
 * per poll); with a shell only the shell is killed, so prefer a direct command.
 */
import { execFile } from 'node:child_process';
import { requireFinite, type SensorSource } from './source.js';

const FIRST_NUMBER = /[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?/;
/** A sensor prints a number, not a log: more than this is a misbehaving command. */
const MAX_OUTPUT_BYTES = 64 * 1024;

export interface CommandOptions {
  /** Program and arguments; with `shell`, a single command line. */
  command: string[];
  timeoutMs: number;
  /** A regular expression; its first capture group (or the whole match) is the number. */
  pattern?: string;
  shell?: boolean;
}

/** The number in a command's output, as configured; throws when there is none or it is not finite. */
export function parseCommandOutput(stdout: string, pattern?: RegExp): number {
  const match = (pattern ?? FIRST_NUMBER).exec(stdout);
  const text = match ? (match[1] ?? match[0]) : undefined;
  if (text === undefined) throw new Error(`no number in the output ${JSON.stringify(stdout.slice(0, 80))}`);
  const value = Number(text.trim());
  if (text.trim() === '' || Number.isNaN(value)) throw new Error(`"${text}" is not a number`);
  return requireFinite(value, 'command output');
}

export function commandSource(options: CommandOptions): SensorSource {
  const [file, ...args] = options.command;
  if (!file) throw new Error('command: empty');
  const pattern = options.pattern === undefined ? undefined : new RegExp(options.pattern, 'm');
  const description = options.command.join(' ');
  return {
    description,
    read: () =>
      new Promise<number>((resolve, reject) => {
        execFile(
          file,
          args,
          { timeout: options.timeoutMs, killSignal: 'SIGKILL', maxBuffer: MAX_OUTPUT_BYTES, shell: options.shell ?? false, encoding: 'utf8' },
          (err, stdout, stderr) => {
            if (err) {
              reject(new Error(`"${description}" ${failure(err, options.timeoutMs)}${stderr ? ` (${stderr.trim().slice(0, 200)})` : ''}`));
              return;
            }
            try {
              resolve(parseCommandOutput(stdout, pattern));
            } catch (parseErr) {
              reject(new Error(`"${description}": ${(parseErr as Error).message}`));
            }
          },
        );
      }),
  };
}

function failure(err: Error & { code?: unknown; killed?: boolean }, timeoutMs: number): string {
  if (err.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') return `printed more than ${MAX_OUTPUT_BYTES} bytes and was killed`;
  if (err.killed) return `timed out after ${timeoutMs} ms and was killed`;
  return `failed: ${err.message.trim()}`;
}
