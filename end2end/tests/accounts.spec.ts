import { test, expect, Page } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';

// One flow per project ('js' and 'nojs'), each against its own fresh server and data directory:
// set up the first administrator, log in, create a learner, log out, log in as the learner, and be
// refused the Users page. Run with JavaScript on (hydrated app) and off (plain HTML forms).

// axe runs inside the page, so it needs JavaScript: the 'js' project checks every page the flow
// visits; the 'nojs' project renders the same server HTML.
async function expectAccessible(page: Page) {
  if (test.info().project.name !== 'js') return;
  const results = await new AxeBuilder({ page }).analyze();
  const summary = results.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect(summary, `axe violations on ${page.url()}`).toEqual([]);
}

async function expectHydratedIfJs(page: Page, js: boolean) {
  if (js) {
    await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  }
}

async function logIn(page: Page, who: string, password: string) {
  await page.getByLabel('Login name or e-mail').fill(who);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

test('accounts: set-up, login, create a learner, learner is refused the Users page', async ({ page }, info) => {
  const js = info.project.name === 'js';
  const wasmLoaded: string[] = [];
  page.on('response', (r) => {
    if (r.url().endsWith('.wasm') && r.ok()) wasmLoaded.push(r.url());
  });
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));

  // Fresh data directory: every page leads to the set-up page.
  await page.goto('/users');
  await expect(page).toHaveURL(/\/setup$/);
  await expect(page.getByRole('heading', { name: 'Welcome to Tessera' })).toBeVisible();
  await expectHydratedIfJs(page, js);
  await expectAccessible(page);

  // A mistake is shown next to its field, and nothing is created.
  await page.getByLabel('Login name').fill('admin');
  await page.getByLabel('E-mail').fill('admin@example.org');
  await page.getByLabel('Display name').fill('Ada Admin');
  await page.getByLabel('Password', { exact: true }).fill('admin-password-1');
  await page.getByLabel('Password again').fill('something-else');
  await page.getByRole('button', { name: 'Create administrator' }).click();
  await expect(page.getByText('The two passwords are not the same.')).toBeVisible();
  await expect(page.getByLabel('Password again')).toHaveAttribute('aria-invalid', 'true');

  await page.getByLabel('Login name').fill('admin');
  await page.getByLabel('E-mail').fill('admin@example.org');
  await page.getByLabel('Display name').fill('Ada Admin');
  await page.getByLabel('Password', { exact: true }).fill('admin-password-1');
  await page.getByLabel('Password again').fill('admin-password-1');
  await page.getByRole('button', { name: 'Create administrator' }).click();
  await expect(page.getByRole('heading', { name: 'Administration' })).toBeVisible();

  // The set-up page is gone for good.
  await page.goto('/setup');
  await expect(page.getByRole('heading', { name: 'Administration' })).toBeVisible();
  await expectAccessible(page);

  // Log out, then log in (a wrong password first).
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page.getByRole('heading', { name: 'Log in' })).toBeVisible();
  await expectHydratedIfJs(page, js);
  await expectAccessible(page);
  await logIn(page, 'admin', 'wrong-password');
  await expect(page.getByText('The login name or e-mail, or the password, is not correct.')).toBeVisible();
  await logIn(page, 'ADMIN@example.org', 'admin-password-1');
  await expect(page.getByRole('heading', { name: 'Administration' })).toBeVisible();

  // Create a learner on the Users page.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click();
  await expect(page.getByRole('heading', { name: 'Users', exact: true })).toBeVisible();
  await expect(page.getByRole('cell', { name: 'admin@example.org' })).toBeVisible();
  await expectAccessible(page);
  const form = page.getByRole('region', { name: 'Add a user' });
  await form.getByLabel('Login name').fill('lee');
  await form.getByLabel('E-mail').fill('lee@example.org');
  await form.getByLabel('Display name').fill('Lee Learner');
  await form.getByLabel('Role').selectOption('learner');
  await form.getByLabel('Initial password', { exact: true }).fill('learner-password-1');
  await form.getByLabel('Initial password again').fill('learner-password-1');
  await form.getByRole('button', { name: 'Create user' }).click();
  await expect(page).toHaveURL(/\/users\/\d+$/);
  await expect(page.getByRole('heading', { name: 'Lee Learner' })).toBeVisible();
  await expectAccessible(page);

  // The new user is in the table and found by search.
  await page.goto('/users?q=lee');
  await expect(page.getByRole('cell', { name: 'lee@example.org' })).toBeVisible();
  await expect(page.getByRole('cell', { name: 'admin@example.org' })).toHaveCount(0);

  // Log out; log in as the learner.
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page.getByRole('heading', { name: 'Log in' })).toBeVisible();
  await logIn(page, 'lee', 'learner-password-1');
  await expect(page.getByRole('heading', { name: 'My courses' })).toBeVisible();
  await expect(page.getByText('You are not enrolled in any course yet.')).toBeVisible();
  await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' })).toHaveCount(0);
  await expectAccessible(page);

  // The Users page refuses the learner and shows no user data.
  const res = await page.goto('/users');
  expect(res?.status()).toBe(403);
  await expect(page.getByRole('heading', { name: 'Access denied' })).toBeVisible();
  await expect(page.getByText('admin@example.org')).toHaveCount(0);

  if (js) {
    expect(wasmLoaded.length, 'the wasm bundle loaded').toBeGreaterThan(0);
  }
  expect(pageErrors).toEqual([]);
});
