import { defineConfig } from '@playwright/test';

// The server under test is the release binary copied alone into an empty directory
// (TESSERA_E2E_DIR), so these tests also prove the single-binary build: nothing is served from
// the checkout. scripts/test.sh prepares both; tests/fixtures.ts starts a fresh server with its
// own data directory for every test.
export default defineConfig({
  testDir: './tests',
  timeout: 90_000,
  expect: { timeout: 10_000 },
  fullyParallel: true,
  workers: 2,
  retries: 0,
  reporter: process.env.CI ? 'list' : [['list'], ['html', { open: 'never' }]],
  use: {
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: '/usr/bin/chromium',
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
    { name: 'js', use: { javaScriptEnabled: true } },
    { name: 'nojs', use: { javaScriptEnabled: false } },
    // Phone width: the same flows at 390 × 844 (axe checks included).
    { name: 'phone', use: { javaScriptEnabled: true, viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true } },
    // The flows that write and read the store, with JavaScript on and the store in PostgreSQL
    // (a database of its own per test on the cluster scripts/test.sh starts): the second
    // backend seen through a browser. Left out: the specs about what the browser draws (widths,
    // keyboard focus, themes, screenshots) and the TLS listener, which do not depend on the
    // store and run in the other projects.
    ...(process.env.TESSERA_TEST_DATABASE_URL
      ? [{
          name: 'postgres',
          use: { javaScriptEnabled: true },
          testIgnore: ['**/layout.spec.ts', '**/keyboard.spec.ts', '**/themes.spec.ts', '**/screens.spec.ts', '**/https.spec.ts'],
        }]
      : []),
  ],
});
