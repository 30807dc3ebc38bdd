// Imported rather than global so that the production build (no jest types) compiles this file too.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { ChainSettingsConflictError, type ChainSettingsStore } from './chain-settings-store';

export interface ChainSettingsSubject {
  store: ChainSettingsStore;
  /** Opens the same storage again over a connection of its own, as another process would. */
  reopen: () => Promise<ChainSettingsStore>;
}

const chainA = [{ name: 'random', settings: {}, enabled: true }];
const chainB = [
  { fallback: [{ name: 'distance', settings: { 'a.b': { $x: 1 } }, enabled: true }] },
  'random',
];

/** What every ChainSettingsStore adapter must do; `open` gives a fresh, empty store each time. */
export function describeChainSettingsContract(
  name: string,
  open: () => Promise<ChainSettingsSubject>,
): void {
  describe(`${name} (ChainSettingsStore contract)`, () => {
    let subject: ChainSettingsSubject;
    const opened: ChainSettingsStore[] = [];

    beforeEach(async () => {
      subject = await open();
      opened.push(subject.store);
    });

    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()));
    });

    it('holds nothing at first', async () => {
      expect(await subject.store.get()).toBeUndefined();
    });

    it('gives back what was saved, with version 1 and the time of the save', async () => {
      const before = Date.now();
      const saved = await subject.store.save(chainB, 0);
      expect(saved).toEqual({ chain: chainB, version: 1, updatedAt: expect.any(String) });
      expect(Date.parse(saved.updatedAt)).toBeGreaterThanOrEqual(before - 1000);
      expect(await subject.store.get()).toEqual(saved);
    });

    it('bumps the version on each save, and refuses a save from a stale version', async () => {
      await subject.store.save(chainA, 0);
      expect((await subject.store.save(chainB, 1)).version).toBe(2);
      await expect(subject.store.save(chainA, 1)).rejects.toBeInstanceOf(
        ChainSettingsConflictError,
      );
      await expect(subject.store.save(chainA, 0)).rejects.toBeInstanceOf(
        ChainSettingsConflictError,
      );
      await expect(subject.store.save(chainA, 3)).rejects.toBeInstanceOf(
        ChainSettingsConflictError,
      );
      expect(await subject.store.get()).toMatchObject({ chain: chainB, version: 2 });
    });

    it('refuses a save that expects a version when nothing is stored', async () => {
      await expect(subject.store.save(chainA, 1)).rejects.toBeInstanceOf(
        ChainSettingsConflictError,
      );
      expect(await subject.store.get()).toBeUndefined();
    });

    it('forgets the chain on clear, and takes a first save again after it', async () => {
      await subject.store.save(chainA, 0);
      await subject.store.clear();
      expect(await subject.store.get()).toBeUndefined();
      await subject.store.clear();
      expect((await subject.store.save(chainB, 0)).version).toBe(1);
    });

    it('lets exactly one of two writers of the same version win, across connections', async () => {
      await subject.store.save(chainA, 0);
      const other = await subject.reopen();
      opened.push(other);
      const results = await Promise.allSettled([
        subject.store.save(chainB, 1),
        other.save(['least-loaded'], 1),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const refused = results.find((r) => r.status === 'rejected');
      expect(refused?.reason).toBeInstanceOf(ChainSettingsConflictError);
      expect((await other.get())?.version).toBe(2);
    });

    it('keeps the chain across a restart', async () => {
      const saved = await subject.store.save(chainB, 0);
      await subject.store.close();
      const reopened = await subject.reopen();
      opened.push(reopened);
      expect(await reopened.get()).toEqual(saved);
    });
  });
}
