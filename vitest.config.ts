import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    reporters: ['default'],
    // expect.poll waits for what a real server or browser shows; CI runners are loaded (1 s by default).
    expect: { poll: { timeout: 5_000 } },
  },
});
