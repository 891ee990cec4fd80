/**
 * Bytes this process has caused to be written to storage: `write_bytes` of /proc/self/io (Linux,
 * proc(5)), counted when pages go to the block device, so it includes LevelDB's compactions and
 * the telemetry journal, from every thread of the process. What wears an SD card, unlike `wchar`
 * (bytes handed to write(2), also to sockets and pipes). Undefined where the kernel does not tell
 * (not Linux, or a kernel without task I/O accounting).
 */
import { readFile } from 'node:fs/promises';

export async function processWriteBytes(path = '/proc/self/io'): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  const m = /^write_bytes:\s*(\d+)\s*$/m.exec(text);
  return m ? Number(m[1]) : undefined;
}
