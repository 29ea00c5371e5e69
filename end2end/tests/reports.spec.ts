import { test, expect, asNewAdmin, ADMIN_PASSWORD } from './fixtures';
import { api, expectAccessible, expectHydratedIfJs, jsOn, logIn, logOut, nav, watchPanics } from './helpers';
import * as fs from 'fs';

// Reports: runs in every project ('js', 'nojs' with JavaScript off: the filters are a GET form
// and the download a plain link; 'phone' at 390 px), each test on a fresh server (fixtures.ts).

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
  await expectHydratedIfJs(page, jsOn());
  await page.getByRole('button', { name: 'Mark as done' }).click();
  await expect(page.getByRole('button', { name: 'Mark as not done' })).toBeVisible();

  // The admin opens the group's Report tab.
  await logOut(page);
  await logIn(page, 'admin', ADMIN_PASSWORD);
  await expect(page.getByRole('heading', { name: 'Administration' })).toBeVisible();
  await page.goto(`/groups/${g}`);
  await page.getByRole('navigation', { name: 'Group sections' }).getByRole('link', { name: 'Report' }).click();
  await expect(page.getByRole('heading', { name: 'Report', level: 2 })).toBeVisible();
  await expectHydratedIfJs(page, jsOn());

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
  await nav(page, 'Reports').click();
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
