import { test as base, expect, Page } from '@playwright/test';
import { spawn, execFileSync, ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';

// Every test gets its own server: the release binary copied alone into an empty directory
// (TESSERA_E2E_DIR), on a free loopback port, with a data directory of its own. No test
// depends on data another test made, and any test can run alone.
const bin = process.env.TESSERA_BIN;
const dir = process.env.TESSERA_E2E_DIR;
if (!bin || !dir) {
  throw new Error('run the browser tests through scripts/test.sh (TESSERA_BIN and TESSERA_E2E_DIR unset)');
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

async function waitUntilServing(url: string, child: ChildProcess, log: () => string) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`tessera exited with ${child.exitCode}:\n${log()}`);
    try {
      const res = await fetch(url, { redirect: 'manual' });
      if (res.status > 0) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`tessera did not start in 30 s:\n${log()}`);
}

// The `postgres` project's tests each get a database of their own on the test cluster
// (TESSERA_TEST_DATABASE_URL, a superuser's URL), dropped after the test.
function testDatabase(name: string): { url: string; drop: () => void } {
  const admin = process.env.TESSERA_TEST_DATABASE_URL;
  if (!admin) throw new Error('the postgres project needs TESSERA_TEST_DATABASE_URL (scripts/test.sh sets it)');
  const sql = (command: string) => execFileSync('psql', [admin, '-qXc', command], { stdio: 'pipe' });
  sql(`CREATE DATABASE ${name}`);
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => sql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

export const test = base.extend<{ serverLog: string[]; serverArgs: string[] }>({
  // Extra command-line arguments for the test's server (`test.use({ serverArgs: [...] })`).
  serverArgs: [[], { option: true }],
  serverLog: async ({}, use) => {
    await use([]);
  },
  baseURL: async ({ serverLog, serverArgs }, use, testInfo) => {
    const port = await freePort();
    const data = path.join(dir!, `data-${testInfo.project.name}-${testInfo.workerIndex}-${port}`);
    const url = `http://127.0.0.1:${port}`;
    // The address people use, as a real installation sets it: set-password links are made
    // from it and from nothing else.
    const publicUrl = serverArgs.includes('--public-url') ? [] : ['--public-url', url];
    const db = testInfo.project.name === 'postgres' ? testDatabase(`tessera_e2e_${process.pid}_${port}`) : null;
    const store = db ? ['--database-url', db.url] : [];
    const child = spawn(bin!, ['serve', '--addr', `127.0.0.1:${port}`, '--data-dir', data, ...store, ...publicUrl, ...serverArgs], {
      cwd: dir,
      env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d) => serverLog.push(String(d)));
    child.stderr!.on('data', (d) => serverLog.push(String(d)));
    await waitUntilServing(`${url}/login`, child, () => serverLog.join(''));
    await use(url);
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    fs.rmSync(data, { recursive: true, force: true });
    db?.drop();
    const bad = serverLog.join('').split('\n').filter((l) => /panic|ERROR/.test(l));
    expect(bad, 'no panic or error in the server log').toEqual([]);
  },
});

export { expect };
export type { Page };

export const ADMIN_PASSWORD = 'admin-password-1';

/// Sets up the first administrator through the API (the accounts test does it in the browser);
/// set-up signs them in, and the page shares the request's cookies.
export async function asNewAdmin(page: Page) {
  const res = await page.request.post('/api/setup', {
    headers: { Accept: 'application/json' },
    form: {
      login: 'admin',
      email: 'admin@example.org',
      display_name: 'Ada Admin',
      password: ADMIN_PASSWORD,
      password_confirm: ADMIN_PASSWORD,
    },
  });
  expect(res.status(), await res.text()).toBe(200);
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Administration' })).toBeVisible();
}
