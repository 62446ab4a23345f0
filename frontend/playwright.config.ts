// The browser tests (e2e/), on @playwright/test with Debian's Chromium (no browser download).
// They run against a running daehwa (DAEHWA_URL, at the root or under a base path) and the
// Rust fake LLM (FAKE_LLM_URL); .ci/e2e starts both. Projects: `chat` (the whole flow with
// the features of issue 8: `npm run e2e`) and `smoke` (the shell only: `npm run e2e:smoke`).
// The tests of a file share one server's state and run in order, in one worker.
import { defineConfig } from '@playwright/test'

// One suffix per run for the users the flow registers (workers inherit the environment).
process.env.E2E_SUFFIX ||= Date.now().toString(36).slice(-5)

export default defineConfig({
  testDir: './e2e',
  outputDir: './e2e/test-results',
  workers: 1,
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  retries: 0,
  // One test is one step of the flow; a streamed answer may take a while on a busy machine.
  timeout: 120_000,
  expect: { timeout: 15_000 },
  reporter: [['list']],
  use: {
    actionTimeout: 15_000,
    navigationTimeout: 15_000,
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  projects: [
    // chat.spec.ts first (it registers the first account, the admin), then issue 18's
    // daily-use specs (daily-*.spec.ts), issue 20's files.spec.ts and issue 21's
    // compare.spec.ts and organize.spec.ts, and issue 22's signin.spec.ts, alphabetically, on
    // the same server.
    {
      name: 'chat',
      testMatch: /(chat|compare|daily-[a-z-]+|files|organize|signin)\.spec\.ts$/,
    },
    // On a server of its own with an empty database: the first run (.ci/e2e).
    { name: 'first-run', testMatch: 'first-run.spec.ts' },
    { name: 'smoke', testMatch: 'smoke.spec.ts' },
  ],
})
