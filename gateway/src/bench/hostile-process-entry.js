// Starts the isolation harness's hostile client in its own process (bench/hostile-process.ts): its
// TypeScript goes through tsx, as the harness's does.
import { register } from 'tsx/esm/api';

register();
const { hostileChildMain } = await import('./hostile-process.ts');
hostileChildMain();
