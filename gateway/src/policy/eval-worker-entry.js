// Starts a policy evaluation worker thread (policy/eval-pool.ts): its TypeScript goes through tsx,
// as the main thread's does.
import { register } from 'tsx/esm/api';

register();
await import('./eval-worker.ts');
