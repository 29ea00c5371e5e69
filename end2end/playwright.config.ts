import { defineConfig } from '@playwright/test';

// The server under test is the release binary copied alone into an empty directory
// (TESSERA_E2E_DIR), so these tests also prove the single-binary build: nothing is served from
// the checkout. scripts/test.sh prepares both; each project gets its own fresh data directory.
const bin = process.env.TESSERA_BIN;
const dir = process.env.TESSERA_E2E_DIR;
if (!bin || !dir) {
  throw new Error('run the browser tests through scripts/test.sh (TESSERA_BIN and TESSERA_E2E_DIR unset)');
}
const jsPort = Number(process.env.TESSERA_E2E_PORT ?? 3301);
const noJsPort = jsPort + 1;

const server = (port: number, name: string) => ({
  command: `"${bin}" serve --addr 127.0.0.1:${port} --data-dir "${dir}/data-${name}"`,
  url: `http://127.0.0.1:${port}/login`,
  cwd: dir,
  reuseExistingServer: false,
  timeout: 30_000,
  env: { RUST_LOG: process.env.RUST_LOG ?? 'warn' },
  stdout: 'pipe' as const,
  stderr: 'pipe' as const,
});

export default defineConfig({
  testDir: './tests',
  timeout: 90_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
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
    { name: 'js', use: { baseURL: `http://127.0.0.1:${jsPort}`, javaScriptEnabled: true } },
    { name: 'nojs', use: { baseURL: `http://127.0.0.1:${noJsPort}`, javaScriptEnabled: false } },
  ],
  webServer: [server(jsPort, 'js'), server(noJsPort, 'nojs')],
});
