import { test, expect, Page, asNewAdmin, ADMIN_PASSWORD } from './fixtures';
import AxeBuilder from '@axe-core/playwright';
import * as fs from 'fs';

// Reports: runs in every project ('js', 'nojs' with JavaScript off: the filters are a GET form
// and the download a plain link; 'phone' at 390 px), each test on a fresh server (fixtures.ts).

function jsOn(): boolean {
  return test.info().project.use.javaScriptEnabled !== false;
}

async function expectAccessible(page: Page) {
  if (!jsOn()) return;
  // Nothing pushes the page sideways (wide tables and the chart stay inside their box).
  const widths = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  expect(widths[0], `no sideways scrolling on ${page.url()}`).toBeLessThanOrEqual(widths[1]);
  const results = await new AxeBuilder({ page }).analyze();
  const summary = results.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect(summary, `axe violations on ${page.url()}`).toEqual([]);
}

async function expectHydratedIfJs(page: Page) {
  if (jsOn()) await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
}

// Hydration panics and Content-Security-Policy refusals are logged to the console.
function watchPanics(page: Page): string[] {
  const panics: string[] = [];
  page.on('console', (m) => {
    const text = m.text();
    if (m.type() === 'error' && /panicked|hydration/i.test(text)) panics.push(`${page.url()}: ${text.slice(0, 200)}`);
    if (/Content Security Policy|Content-Security-Policy/i.test(text)) panics.push(`CSP on ${page.url()}: ${text.slice(0, 300)}`);
  });
  page.on('pageerror', (e) => panics.push(`${page.url()}: ${String(e)}`));
  return panics;
}

// Set-up through the API, as the administrator's browser would post the forms.
async function api(page: Page, fn: string, form: Record<string, string>) {
  const res = await page.request.post(`/api/${fn}`, { headers: { Accept: 'application/json' }, form });
  expect(res.status(), `${fn}: ${await res.text()}`).toBe(200);
  return res.json();
}

async function logIn(page: Page, who: string, password: string) {
  await page.getByLabel('Login name or e-mail').fill(who);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

async function logOut(page: Page) {
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page.getByRole('heading', { name: 'Log in' })).toBeVisible();
}

const LEARNER_PASSWORD = 'learner-password-5';

test('reports: the Report tab shows a learner\'s progress, a chart, filters and a CSV; the admin lists', async ({ page }) => {
  const panics = watchPanics(page);
  await asNewAdmin(page);
  const course = await api(page, 'create_course', { code: 'RP-1', title: 'Report basics', description: '' });
  const c = String(course.id);
  await api(page, 'change_lesson', { course: c, op: 'add', title: 'First steps', text: 'Hello.' });
  await api(page, 'change_lesson', { course: c, op: 'add', title: 'Second steps', text: 'Again.' });
  const lea = await api(page, 'create_user', {
    login: 'lea', email: 'lea@example.org', display_name: 'Lea Learner', role: 'learner',
    password: LEARNER_PASSWORD, password_confirm: LEARNER_PASSWORD,
  });
  const saved = await api(page, 'create_group', {
    name: 'Reporting 101', description: '', branch: '', key: '', max_uses: '', valid_from: '', valid_until: '',
  });
  const g = String(saved.group.id);
  await api(page, 'change_group_link', { id: g, kind: 'course', target: c, op: 'add' });
  await api(page, 'add_group_member', { id: g, user: String(lea.id) });
  await api(page, 'enrol_user', { course: c, user: String(lea.id) });

  // The learner does one lesson of two.
  await logOut(page);
  await logIn(page, 'lea', LEARNER_PASSWORD);
  await expect(page.getByRole('heading', { name: 'My courses' })).toBeVisible();
  await page.getByRole('link', { name: /Report basics/ }).click();
  await page.getByRole('link', { name: 'First steps' }).click();
  await expect(page.getByRole('heading', { name: 'First steps', level: 1 })).toBeVisible();
  await expectHydratedIfJs(page);
  await page.getByRole('button', { name: 'Mark as done' }).click();
  await expect(page.getByRole('button', { name: 'Mark as not done' })).toBeVisible();

  // The admin opens the group's Report tab.
  await logOut(page);
  await logIn(page, 'admin', ADMIN_PASSWORD);
  await expect(page.getByRole('heading', { name: 'Administration' })).toBeVisible();
  await page.goto(`/groups/${g}`);
  await page.getByRole('navigation', { name: 'Group sections' }).getByRole('link', { name: 'Report' }).click();
  await expect(page.getByRole('heading', { name: 'Report', level: 2 })).toBeVisible();
  await expectHydratedIfJs(page);

  // The chart: an image with a title, and its numbers as a table.
  await expect(page.getByRole('img', { name: 'Completion in Reporting 101' })).toBeVisible();
  const perCourse = page.getByRole('table', { name: 'Completion per course' });
  await expect(perCourse.getByRole('row', { name: /RP-1/ })).toContainText('0 %');
  const members = page.getByRole('table', { name: 'Members by course' });
  const row = members.getByRole('row', { name: /lea/ });
  await expect(row).toContainText('In progress');
  await expect(row).toContainText('50 %');
  await expectAccessible(page);

  // Filters (a GET form): completed leaves nobody, in progress leaves Lea.
  await page.getByLabel('Status', { exact: true }).selectOption('completed');
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await expect(page).toHaveURL(/status=completed/);
  await expect(page.getByText('No member matches these filters.')).toBeVisible();
  await page.getByLabel('Status', { exact: true }).selectOption('in_progress');
  await page.getByLabel('Course', { exact: true }).selectOption({ label: 'RP-1 — Report basics' });
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await expect(page).toHaveURL(/status=in_progress/);
  await expect(page.getByRole('table', { name: 'Members by course' }).getByRole('row', { name: /lea/ })).toContainText('In progress');

  // The CSV: a header row, then Lea.
  const downloading = page.waitForEvent('download');
  await page.getByRole('link', { name: 'Download CSV' }).click();
  const file = await (await downloading).path();
  const lines = fs.readFileSync(file!, 'utf8').split('\n');
  expect(lines[0]).toBe('login,display name,RP-1 status,RP-1 progress %,RP-1 completed on');
  expect(lines[1]).toBe('lea,Lea Learner,In progress,50,');

  // The Reports page lists the group with its completion.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Reports', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Reports', level: 1 })).toBeVisible();
  const groups = page.getByRole('table', { name: 'Groups with their completion' });
  await expect(groups.getByRole('row', { name: /Reporting 101/ })).toContainText('0 of 1');
  await expectAccessible(page);

  // Lea's page: her courses across her groups.
  await page.goto(`/users/${lea.id}`);
  const courses = page.getByRole('region', { name: 'Courses and progress' });
  const mine = courses.getByRole('row', { name: /RP-1/ });
  await expect(mine).toContainText('Reporting 101');
  await expect(mine).toContainText('In progress');
  await expect(mine).toContainText('50 % (1 / 2 lessons)');
  await expectAccessible(page);
  expect(panics).toEqual([]);
});
