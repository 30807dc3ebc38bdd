import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * For tests only (not exported from the lib's index). Jest runs test files in parallel processes
 * that share one RabbitMQ; the distributed end-to-end test restarts it. Tests that need the broker
 * up hold this lock while they use it, and the restart holds it while the broker is down, so that
 * neither sees the other. A lock left by a process that died is taken over.
 */
const LOCK_FILE = join(tmpdir(), 'protes-test-rabbitmq.lock');

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Waits for the lock and resolves with the function that releases it. */
export async function lockBroker(timeoutMs = 180_000): Promise<() => void> {
  const deadline = Date.now() + timeoutMs;
  const token = `${process.pid}:${Math.random().toString(36).slice(2)}`;
  for (;;) {
    try {
      const fd = openSync(LOCK_FILE, 'wx');
      writeSync(fd, token);
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(LOCK_FILE, 'utf8') === token) unlinkSync(LOCK_FILE);
        } catch {
          // Already gone.
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let holder = NaN;
    try {
      holder = Number.parseInt(readFileSync(LOCK_FILE, 'utf8').split(':')[0], 10);
    } catch {
      continue; // released meanwhile
    }
    if (Number.isInteger(holder) && !alive(holder)) {
      try {
        unlinkSync(LOCK_FILE);
      } catch {
        // Someone else took it over first.
      }
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(`RabbitMQ test lock ${LOCK_FILE} still held by process ${holder}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
