// Screenshots of given pages at desktop and phone width, as admin or a learner (a tool for
// looking at the UI, not a test): node shots.mjs BASE OUTDIR who:path ...
import { chromium } from '@playwright/test';
const [base, out, ...pages] = process.argv.slice(2);
const b = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
const creds = { admin: ['admin', 'admin-password-1'], lee: ['lee', 'learner-password-1'] };
for (const [w, h] of [[1280, 900], [390, 844]]) {
  for (const who of Object.keys(creds)) {
    const ctx = await b.newContext({ viewport: { width: w, height: h } });
    const p = await ctx.newPage();
    const r = await p.request.post(`${base}/api/login`, { headers: { Accept: 'application/json' }, form: { identifier: creds[who][0], password: creds[who][1] } });
    if (r.status() !== 200) throw new Error(`login ${who}: ${r.status()}`);
    for (const spec of pages) {
      const [pw, path] = spec.split(/:(.*)/s);
      if (pw !== who) continue;
      await p.goto(`${base}${path}`);
      await p.waitForTimeout(800);
      const name = `${who}${path.replace(/[^a-z0-9]+/gi, '_')}-${w}.png`;
      await p.screenshot({ path: `${out}/${name}`, fullPage: true });
      console.log(name);
    }
    await ctx.close();
  }
}
await b.close();
