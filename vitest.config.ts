import { defineConfig } from 'vitest/config';

// Unit tests live next to the code (gateway/src/**/*.test.ts); integration scenarios that
// talk to a real PostgreSQL through Gatehouse live in gateway/test/.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['gateway/src/**/*.test.ts'],
          globalSetup: ['gateway/test/setup/global-setup.ts'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['gateway/test/**/*.test.ts'],
          globalSetup: ['gateway/test/setup/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
