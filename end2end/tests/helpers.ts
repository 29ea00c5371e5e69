import { test, expect, Page } from './fixtures';
import AxeBuilder from '@axe-core/playwright';

// What every flow uses: which project runs (JavaScript on or off), the accessibility and
// hydration checks, the panic watch, logging in and out, the main navigation, and set-up
// through the API.

// The 'js' and 'phone' projects run with JavaScript, 'nojs' without.
export function jsOn(): boolean {
  return test.info().project.use.javaScriptEnabled !== false;
}

// axe runs inside the page, so it needs JavaScript: the 'js' and 'phone' projects check every
// page the flow visits (at desktop and at phone width); 'nojs' renders the same server HTML.
export async function expectAccessible(page: Page) {
  if (!jsOn()) return;
  // Nothing pushes the page sideways (wide tables scroll inside their own box).
  const widths = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  expect(widths[0], `no sideways scrolling on ${page.url()}`).toBeLessThanOrEqual(widths[1]);
  const results = await new AxeBuilder({ page }).analyze();
  const summary = results.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect(summary, `axe violations on ${page.url()}`).toEqual([]);
}

export async function expectHydratedIfJs(page: Page, js: boolean) {
  if (js) {
    await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  }
}

// A hydration mismatch does not throw a page error: the wasm panics and logs to the console.
// A script, style or frame the Content-Security-Policy blocks is logged there too (with
// JavaScript off as well): both fail the flow.
export function watchPanics(page: Page): string[] {
  const panics: string[] = [];
  page.on('console', (m) => {
    const text = m.text();
    if (m.type() === 'error' && /panicked|hydration/i.test(text)) panics.push(`${page.url()}: ${text.slice(0, 200)}`);
    if (/Content Security Policy|Content-Security-Policy/i.test(text)) panics.push(`CSP on ${page.url()}: ${text.slice(0, 300)}`);
  });
  page.on('pageerror', (e) => panics.push(`${page.url()}: ${String(e)}`));
  return panics;
}

export async function logIn(page: Page, who: string, password: string) {
  await page.getByLabel('Login name or e-mail').fill(who);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

export async function logOut(page: Page) {
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page.getByRole('heading', { name: 'Log in' })).toBeVisible();
}

// A page of the main navigation: a link on the bar, or one under its menu ("More" at desktop
// width, "Menu" on a phone), which `click` opens first, as a person would.
export function nav(page: Page, name: string) {
  const main = page.getByRole('navigation', { name: 'Main' });
  const link = main.getByRole('link', { name, exact: true });
  return {
    link,
    click: async () => {
      if (!(await link.isVisible())) {
        await main.locator('details.menu > summary').click();
      }
      await link.click();
    },
  };
}

// Set-up through the API (as an administrator's browser would post the forms), for tests whose
// subject is elsewhere.
export async function api(page: Page, fn: string, form: Record<string, string>) {
  const res = await page.request.post(`/api/${fn}`, { headers: { Accept: 'application/json' }, form });
  expect(res.status(), `${fn}: ${await res.text()}`).toBe(200);
  return res.json();
}
