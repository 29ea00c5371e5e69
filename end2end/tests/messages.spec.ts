import { test, expect, asNewAdmin } from './fixtures';
import { api, expectAccessible, expectHydratedIfJs, jsOn, logIn, logOut, watchPanics } from './helpers';

// An administrator writes to a group from its Messages tab; a member sees the unread count in
// the top bar, opens the message (read: the count goes), marks it unread again. With
// JavaScript on, off and at phone width.
test('messages: an administrator writes to a group; the member reads it in the inbox', async ({ page }) => {
  const panics = watchPanics(page);
  await asNewAdmin(page);
  const lee = await api(page, 'create_user', {
    login: 'lee', email: 'lee@example.org', display_name: 'Lee Learner', role: 'learner',
    password: 'learner-password-5', password_confirm: 'learner-password-5',
  });
  const saved = await api(page, 'create_group', {
    name: 'Physics 2026', description: '', branch: '', key: '', max_uses: '0', valid_from: '', valid_until: '',
  });
  const g = saved.group.id;
  await api(page, 'add_group_member', { id: String(g), user: String(lee.id) });

  await page.goto(`/groups/${g}?tab=messages`);
  await expect(page.getByRole('heading', { name: 'Message members' })).toBeVisible();
  await expectHydratedIfJs(page, jsOn());
  await expect(page.getByText('No messages sent to this group yet.')).toBeVisible();
  await page.getByLabel('Subject').fill('Exam moved');
  await page.getByLabel('Message', { exact: true }).fill('The exam is on Tuesday.\nSyllabus: https://example.org/syllabus.');
  await expectAccessible(page);
  await page.getByRole('button', { name: 'Send to members' }).click();
  await expect(page.getByRole('status').getByText('Sent to 1 member.')).toBeVisible();
  const sent = page.getByRole('table', { name: 'Sent messages' });
  await expect(sent.getByRole('row', { name: /Exam moved/ })).toContainText('1 member');
  await expect(sent.getByRole('row', { name: /Exam moved/ })).toContainText('Ada Admin');
  await expectAccessible(page);
  await logOut(page);

  await logIn(page, 'lee', 'learner-password-5');
  await expect(page.getByRole('heading', { name: 'My courses' })).toBeVisible();
  const inboxLink = page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: /^Inbox/ });
  await expect(inboxLink).toHaveAccessibleName('Inbox 1 unread');
  await inboxLink.click();
  await expect(page.getByRole('heading', { name: 'Inbox', level: 1 })).toBeVisible();
  const row = page.getByRole('table', { name: 'Messages' }).getByRole('row', { name: /Exam moved/ });
  await expect(row).toContainText('Unread');
  await expect(row).toContainText('Ada Admin');
  await expect(row).toContainText('Physics 2026');
  await expectAccessible(page);
  await row.getByRole('link', { name: 'Exam moved' }).click();
  await expect(page.getByRole('heading', { name: 'Exam moved', level: 1 })).toBeVisible();
  await expectHydratedIfJs(page, jsOn());
  await expect(page.getByText('The exam is on Tuesday.')).toBeVisible();
  await expect(page.getByRole('link', { name: 'https://example.org/syllabus' })).toHaveAttribute('href', 'https://example.org/syllabus');
  await expect(inboxLink).toHaveAccessibleName('Inbox');
  await expectAccessible(page);

  await page.getByRole('button', { name: 'Mark unread' }).click();
  await expect(page.getByRole('heading', { name: 'Inbox', level: 1 })).toBeVisible();
  await expect(inboxLink).toHaveAccessibleName('Inbox 1 unread');
  await row.getByRole('link', { name: 'Exam moved' }).click();
  await expect(page.getByRole('heading', { name: 'Exam moved', level: 1 })).toBeVisible();
  await page.getByRole('link', { name: '← Inbox' }).click();
  await expect(page.getByRole('heading', { name: 'Inbox', level: 1 })).toBeVisible();
  await expect(inboxLink).toHaveAccessibleName('Inbox');
  await expect(row).not.toContainText('Unread');
  expect(panics).toEqual([]);
});
