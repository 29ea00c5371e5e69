import { test, expect, asNewAdmin, Page } from './fixtures';
import type { Locator } from '@playwright/test';
import { api, logIn, watchPanics } from './helpers';

// The main flows with the keyboard alone: Tab, Shift+Tab, Enter and Space (and typing into
// fields), never the mouse, asserting where the focus lands after each step. JavaScript on
// and off; the phone project is for touch.

test.beforeEach(({}, info) => {
  test.skip(info.project.name === 'phone', 'keyboard runs are for desktop browsers');
});

/// Presses Tab (or Shift+Tab, `back`) until `target` has the focus; fails after `max` presses.
async function tabTo(page: Page, target: Locator, back = false, max = 80) {
  for (let i = 0; i < max; i++) {
    if (await target.evaluate((el) => el === document.activeElement)) return;
    await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
  }
  throw new Error(`${target} not reached with ${back ? 'Shift+Tab' : 'Tab'} in ${max} presses`);
}

async function focusedText(page: Page) {
  return page.evaluate(() => (document.activeElement as HTMLElement | null)?.innerText?.trim() ?? '');
}

test('keyboard: create a group, attach a course and add members, then a learner joins with a key, marks a lesson done and reads a message', async ({ page }) => {
  const panics = watchPanics(page);
  await asNewAdmin(page);
  await api(page, 'create_user', {
    login: 'lee', email: 'lee@example.org', display_name: 'Lee Learner', role: 'learner',
    password: 'learner-password-1', password_confirm: 'learner-password-1',
  });
  await api(page, 'create_user', {
    login: 'mia', email: 'mia@example.org', display_name: 'Mia Member', role: 'learner',
    password: 'learner-password-1', password_confirm: 'learner-password-1',
  });
  const course = await api(page, 'create_course', { code: 'KB-1', title: 'Keyboard basics', description: '' });
  const lessons = await api(page, 'change_lesson', { course: String(course.id), op: 'add', title: 'Home row', text: 'Fingers on the keys.' });

  // Create group: from the groups page, Tab to "Add group", Enter, fill the name, Enter.
  await page.goto('/groups');
  await tabTo(page, page.getByRole('link', { name: 'Add group' }));
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Add group');
  const name = page.getByLabel('Name', { exact: true });
  await tabTo(page, name);
  await page.keyboard.type('Typing club');
  // A refusal first (the key is too weak): focus goes to the summary, and its link leads on.
  await tabTo(page, page.getByText('Advanced options'));
  await page.keyboard.press('Space');
  await tabTo(page, page.getByRole('textbox', { name: 'Group key' }));
  await page.keyboard.type('abc');
  await page.keyboard.press('Enter');
  await expect(page.locator('#outcome')).toBeFocused();
  await page.keyboard.press('Tab');
  expect(await page.evaluate(() => document.activeElement?.getAttribute('href'))).toBe('#problem-key');
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/#problem-key$/);
  await tabTo(page, page.getByRole('textbox', { name: 'Group key' }));
  await page.keyboard.press('Control+A');
  await page.keyboard.type('Maple-Orbit-7142');
  await tabTo(page, page.getByRole('button', { name: 'Create group' }));
  await page.keyboard.press('Space');
  await expect(page.locator('#outcome')).toHaveText('Group created.');
  await expect(page.locator('#outcome')).toBeFocused();
  const url = new URL(page.url());
  const g = url.pathname.split('/')[2];

  // Attach the course: on the Courses tab, Tab to its box in the checklist, Space, then Tab to
  // the button and Enter; the page comes back with the course attached, focus at its start.
  await page.goto(`/groups/${g}?tab=courses`);
  const box = page.getByRole('group', { name: 'Courses not in the group yet' }).getByRole('checkbox', { name: /^KB-1 / });
  await tabTo(page, box);
  await page.keyboard.press('Space');
  await expect(box).toBeChecked();
  await tabTo(page, page.getByRole('button', { name: 'Attach selected courses' }));
  await page.keyboard.press('Enter');
  await expect(page.getByRole('button', { name: 'Remove course KB-1 from the group', includeHidden: true })).toBeAttached();
  await page.keyboard.press('Tab');
  expect(await focusedText(page)).toBe('Skip to content');

  // Add members: the list box on the Members tab, typed, then Tab to the button and Enter.
  await page.goto(`/groups/${g}?tab=users`);
  const list = page.getByLabel('Login names or e-mail addresses');
  await tabTo(page, list);
  await page.keyboard.type('lee');
  await tabTo(page, page.getByRole('button', { name: 'Add listed users' }));
  await page.keyboard.press('Enter');
  await expect(page.locator('#outcome')).toBeFocused();
  await expect(page.getByText('1 added', { exact: false })).toBeVisible();
  // Shift+Tab from the summary goes back up to the navigation, not into a trap.
  await page.keyboard.press('Shift+Tab');
  expect(await page.evaluate(() => document.activeElement?.closest('header, nav') !== null)).toBe(true);
  await api(page, 'send_group_message', { id: g, subject: 'Welcome', body: 'See you on Monday.' });

  // A learner joins with the key, by keyboard.
  await page.getByRole('button', { name: 'Log out' }).click();
  await logIn(page, 'mia', 'learner-password-1');
  await page.goto('/join');
  await tabTo(page, page.getByRole('textbox', { name: 'Group key' }));
  await page.keyboard.type('maple-orbit-7142');
  await page.keyboard.press('Enter');
  const joined = page.getByRole('heading', { name: 'You joined Typing club' });
  await expect(joined).toBeVisible();
  await expect(page.locator('section.notice-panel')).toBeFocused();

  // Marks the lesson done: Tab to the lesson from the course, Enter, Tab to the button, Space.
  await tabTo(page, page.getByRole('link', { name: 'Keyboard basics' }));
  await page.keyboard.press('Enter');
  await tabTo(page, page.getByRole('link', { name: 'Home row' }));
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Home row');
  await tabTo(page, page.getByRole('button', { name: 'Mark as done' }));
  await page.keyboard.press('Space');
  await expect(page.locator('#outcome')).toHaveText('Progress saved.');
  await expect(page.locator('#outcome')).toBeFocused();
  await expect(page.getByRole('button', { name: 'Mark as not done' })).toBeVisible();
  expect(lessons.length).toBe(1);

  // Lee, added to the group, reads its message: from the navigation's Inbox, Tab to the
  // message, Enter.
  await page.getByRole('button', { name: 'Log out' }).click();
  await logIn(page, 'lee', 'learner-password-1');
  await tabTo(page, page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: /Inbox/ }));
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Inbox');
  await tabTo(page, page.getByRole('link', { name: /Welcome/ }));
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Welcome');
  await expect(page.getByText('See you on Monday.')).toBeVisible();
  // The page starts at its skip link: the first Tab reaches it, and Enter moves into the content.
  await page.keyboard.press('Tab');
  expect(await focusedText(page)).toBe('Skip to content');

  expect(panics).toEqual([]);
});
