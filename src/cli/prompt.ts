/**
 * Questions on a terminal (`hearth init`): node:readline/promises, with answers to secret questions
 * not echoed. readline echoes what it reads through its output stream, so the output is a stream
 * that forwards to the terminal except while a secret is typed.
 */
import { createInterface, type Interface } from 'node:readline/promises';
import { Writable } from 'node:stream';

export interface Prompter {
  /** Asks `question`; an empty answer gives `fallback` when there is one. */
  ask(question: string, fallback?: string): Promise<string>;
  /** Asks without echoing what is typed. */
  askSecret(question: string): Promise<string>;
  /** A line for the person at the terminal (why an answer was not taken). */
  say(line: string): void;
  close(): void;
}

export function terminalPrompter(input: NodeJS.ReadableStream, output: NodeJS.WritableStream): Prompter {
  let muted = false;
  const echo = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      if (!muted) output.write(chunk);
      done();
    },
  });
  const rl: Interface = createInterface({ input, output: echo, terminal: true });
  return {
    async ask(question, fallback) {
      const answer = (await rl.question(fallback === undefined ? `${question}: ` : `${question} [${fallback}]: `)).trim();
      return answer === '' && fallback !== undefined ? fallback : answer;
    },
    async askSecret(question) {
      output.write(`${question}: `);
      muted = true;
      try {
        return await rl.question('');
      } finally {
        muted = false;
        output.write('\n');
      }
    },
    say: (line) => void output.write(`${line}\n`),
    close: () => rl.close(),
  };
}
