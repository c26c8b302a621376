import { createMemoryStore } from './memory-store.ts';
import { describeStorePaging } from './store-paging.contract.ts';

describeStorePaging('memory', async () => createMemoryStore());
