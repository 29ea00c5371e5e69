import { test, expect } from '@playwright/test';
import { execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import { freePort } from './fixtures';
import * as path from 'path';

// HTTPS served by Tessera itself, in a real browser. Chromium offers h2 first in ALPN; before
// HTTP/2 was served, the server accepted h2 but spoke HTTP/1.1 and every page failed with
// ERR_CONNECTION_CLOSED. The server here gets a self-signed certificate made with openssl.
const bin = process.env.TESSERA_BIN;
const dir = process.env.TESSERA_E2E_DIR;
if (!bin || !dir) {
  throw new Error('run the browser tests through scripts/test.sh (TESSERA_BIN and TESSERA_E2E_DIR unset)');
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

test.use({ ignoreHTTPSErrors: true });

test('https: Chromium loads pages over HTTP/2 from Tessera serving TLS itself', async ({ page }, testInfo) => {
  // The transport is the same for every project; one run (the one with JavaScript, which the
  // protocol check below uses) is enough.
  test.skip(testInfo.project.name !== 'js', 'checked once, in the js project');
  const port = await freePort();
  const work = path.join(dir!, `https-${testInfo.project.name}-${testInfo.workerIndex}-${port}`);
  fs.mkdirSync(work, { recursive: true });
  const cert = path.join(work, 'cert.pem');
  const key = path.join(work, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ], { stdio: 'ignore' });
  const log: string[] = [];
  const child = spawn(bin!, [
    'serve', '--addr', `127.0.0.1:${port}`, '--data-dir', path.join(work, 'data'),
    '--tls-cert', cert, '--tls-key', key,
  ], { cwd: dir, env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => log.push(String(d)));
  child.stderr!.on('data', (d) => log.push(String(d)));
  try {
    const deadline = Date.now() + 30_000;
    while (!(await listening(port))) {
      if (child.exitCode !== null) throw new Error(`tessera exited with ${child.exitCode}:\n${log.join('')}`);
      if (Date.now() > deadline) throw new Error(`tessera did not start in 30 s:\n${log.join('')}`);
      await new Promise((r) => setTimeout(r, 100));
    }

    // A fresh server sends every page to the first-start set-up.
    const res = await page.goto(`https://127.0.0.1:${port}/login`);
    expect(res?.status()).toBe(200);
    expect(res?.headers()['strict-transport-security']).toBe('max-age=31536000');
    await expect(page).toHaveURL(/\/setup$/);
    await expect(page.getByRole('heading', { name: 'Welcome to Tessera' })).toBeVisible();
    await expect(page.getByLabel('Password', { exact: true })).toBeVisible();
    const protocol = await page.evaluate(
      () => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).nextHopProtocol,
    );
    expect(protocol).toBe('h2');

    // A second page on the same server: the connection carries on.
    const again = await page.goto(`https://127.0.0.1:${port}/setup`);
    expect(again?.status()).toBe(200);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    fs.rmSync(work, { recursive: true, force: true });
  }
  const bad = log.join('').split('\n').filter((l) => /panic|ERROR/.test(l));
  expect(bad, 'no panic or error in the server log').toEqual([]);
});
