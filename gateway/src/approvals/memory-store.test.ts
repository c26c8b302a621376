// The memory store keeps the paging contract (store-paging.contract.ts).

import { createMemoryStore } from './memory-store.ts';
import { describeStorePaging } from './store-paging.contract.ts';

describeStorePaging('memory', async () => createMemoryStore());
