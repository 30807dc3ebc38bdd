import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { hashPassword } from './password-hash';

/**
 * `npm run -s auth:hash-password`: prints the scrypt hash of a password for `auth.basic.users`.
 * Asks twice without echo on a terminal; otherwise reads the password from standard input (one
 * trailing newline dropped), e.g. `printf %s "$PASSWORD" | npm run -s auth:hash-password`. The
 * password is never taken as an argument, where the shell history and `ps` would keep it.
 */

async function readPiped(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

function ask(question: string): Promise<string> {
  process.stderr.write(question);
  const silent = new Writable({ write: (_chunk, _encoding, done) => done() });
  const prompt = createInterface({ input: process.stdin, output: silent, terminal: true });
  return new Promise((resolve) =>
    prompt.question('', (answer) => {
      prompt.close();
      process.stderr.write('\n');
      resolve(answer);
    }),
  );
}

async function main(): Promise<void> {
  let password: string;
  if (process.stdin.isTTY) {
    password = await ask('password: ');
    if ((await ask('again: ')) !== password) throw new Error('the two passwords differ');
  } else {
    password = await readPiped();
  }
  if (password.length === 0) throw new Error('the password is empty');
  process.stdout.write(`${await hashPassword(password)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`auth:hash-password: ${(error as Error).message}\n`);
  process.exit(1);
});
