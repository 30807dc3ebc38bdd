// The port moved to @protes/core, which every lib shares; re-exported so that existing imports
// keep working. The key below is how both adapters here store it, so it stays with them.
export { ChainSettingsConflictError, ChainSettingsStore, type StoredChain } from '@protes/core';

/** The key the chain is stored under, in the settings table or collection of either store. */
export const CHAIN_SETTINGS_KEY = 'middleware.chain';
