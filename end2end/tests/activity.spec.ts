import { test, expect, asNewAdmin } from './fixtures';
import { api, expectAccessible, expectHydratedIfJs, jsOn, nav, watchPanics } from './helpers';
import * as fs from 'fs';

// The admin Activity page: runs in every project ('js', 'nojs' with JavaScript off: the filters
// are a GET form, the pages and the download plain links; 'phone' at 390 px), each test on a
// fresh server (fixtures.ts).

const PASSWORD = 'learner-password-7';

test('activity: every group\'s events, newest first, with pages, filters, errors by their fields and a CSV', async ({ page }) => {
  const panics = watchPanics(page);
  await asNewAdmin(page);
  const ana = await api(page, 'create_user', {
    login: 'ana', email: 'ana@example.org', display_name: 'Ana Learner', role: 'learner',
    password: PASSWORD, password_confirm: PASSWORD,
  });
  const group = async (name: string) => String((await api(page, 'create_group', {
    name, description: '', branch: '', key: '', max_uses: '', valid_from: '', valid_until: '',
  })).group.id);
  const physics = await group('Physics 1');
  const chemistry = await group('Chemistry 2');
  // 24 changes in Physics, then one in Chemistry: 27 events with the two creations.
  for (let i = 0; i < 12; i++) {
    await api(page, 'add_group_member', { id: physics, user: String(ana.id) });
    await api(page, 'remove_group_member', { id: physics, user: String(ana.id) });
  }
  await api(page, 'add_group_member', { id: chemistry, user: String(ana.id) });

  // The newest first, from the main navigation.
  await nav(page, 'Activity').click();
  await expect(page.getByRole('heading', { name: 'Activity', level: 1 })).toBeVisible();
  await expectHydratedIfJs(page, jsOn());
  const table = page.getByRole('table', { name: 'Activity' });
  const rows = table.getByRole('row');
  await expect(rows).toHaveCount(21);
  await expect(rows.nth(1)).toContainText('Chemistry 2');
  await expect(rows.nth(1)).toContainText('Members added');
  await expect(rows.nth(1)).toContainText('admin');
  await expect(page.getByRole('link', { name: '← Newer' })).toHaveCount(0);
  await expectAccessible(page);

  // Older: the rest, down to the first group's creation; Newer: back to the first page.
  await page.getByRole('link', { name: 'Older →' }).click();
  await expect(page).toHaveURL(/before=/);
  await expect(rows).toHaveCount(8);
  await expect(rows.last()).toContainText('Group created');
  await expect(rows.last()).toContainText('Physics 1');
  await expect(page.getByRole('link', { name: 'Older →' })).toHaveCount(0);
  await page.getByRole('link', { name: '← Newer' }).click();
  await expect(page).toHaveURL(/after=/);
  await expect(rows).toHaveCount(21);
  await expect(rows.nth(1)).toContainText('Chemistry 2');

  // Filters: one group, one kind.
  await page.getByLabel('Group', { exact: true }).fill('physics 1');
  await page.getByLabel('Kind', { exact: true }).selectOption({ label: 'Members removed' });
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await expect(page).toHaveURL(/group=physics\+1&kind=members_removed/);
  await expect(rows).toHaveCount(13);
  for (const text of await rows.allInnerTexts()) {
    if (!text.includes('What happened')) expect(text).toContain('Members removed');
  }
  await expect(page.getByLabel('Group', { exact: true })).toHaveValue('physics 1');

  // The CSV: the same filters, every match.
  const downloading = page.waitForEvent('download');
  await page.getByRole('link', { name: 'Download CSV' }).click();
  const file = await (await downloading).path();
  const lines = fs.readFileSync(file!, 'utf8').trim().split('\n');
  expect(lines[0]).toBe('time (UTC),actor,group,group id,event,detail');
  expect(lines).toHaveLength(13);
  for (const line of lines.slice(1)) {
    expect(line).toContain(`,admin,Physics 1,${physics},Members removed,Removed ana; enrolments kept.`);
  }

  // Filters at fault: each message next to its field, no table.
  await page.getByLabel('Who', { exact: true }).fill('nobody');
  await page.getByLabel('From', { exact: true }).fill('2026-02-02');
  await page.getByLabel('To', { exact: true }).fill('2026-02-01');
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await expect(page.getByLabel('Who', { exact: true })).toHaveAccessibleDescription(/No user has the login name or e-mail “nobody”/);
  await expect(page.getByLabel('To', { exact: true })).toHaveAccessibleDescription(/“To” is before “From”/);
  await expect(page.getByLabel('Who', { exact: true })).toHaveAttribute('aria-invalid', 'true');
  await expect(page.getByText('Correct the filters marked above to see the events.')).toBeVisible();
  await expect(table).toHaveCount(0);
  await expectAccessible(page);

  // Clearing them shows everything again; a filter that matches nothing says so.
  await page.getByRole('link', { name: 'Clear filters' }).click();
  await expect(rows).toHaveCount(21);
  await page.getByLabel('Kind', { exact: true }).selectOption({ label: 'Key refused' });
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await expect(page.getByText('No event matches these filters.')).toBeVisible();
  expect(panics).toEqual([]);
});
