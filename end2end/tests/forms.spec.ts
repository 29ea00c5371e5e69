import { test, expect, Page } from './fixtures';
import { api, expectAccessible, watchPanics } from './helpers';

// Every form of the product, posted with two bad fields (JavaScript on and off: pages are
// rendered on the server either way): both errors show, each beside its field and both in the
// summary at the top, which takes the focus and is the page's first heading; every typed value
// is still in the form (never a password); nothing was saved.

test.beforeEach(({}, info) => {
  test.skip(info.project.name === 'phone', 'the phone project walks the pages, not every form');
});

const ADMIN = 'admin-password-1';

/// Posts the form the `submit` button belongs to and checks the refusal: the summary focused,
/// first heading, listing `problems` (each a link to its field), each also beside its field.
async function expectRefused(page: Page, submit: string, problems: string[]) {
  await page.getByRole('button', { name: submit, exact: true }).click();
  const outcome = page.locator('#outcome');
  await expect(outcome).toBeFocused();
  await expect(page).toHaveTitle(/^Error: /);
  await expect(outcome.getByRole('heading', { level: 2 })).toHaveText(
    problems.length === 1 ? 'There is a problem' : `There are ${problems.length} problems`,
  );
  const firstHeading = await page.locator('h1, h2').first().textContent();
  expect(firstHeading).toMatch(/There (is a problem|are \d+ problems)/);
  for (const p of problems) {
    await expect(outcome.getByRole('link', { name: p })).toBeVisible();
    await expect(page.locator('.field-error', { hasText: p })).toBeVisible();
  }
  await expectAccessible(page);
}

test('forms: two bad fields on every form show both errors and keep what was typed', async ({ page }) => {
  const panics = watchPanics(page);

  // Set-up: three problems at once; the name typed stays, the passwords do not.
  await page.goto('/setup');
  await page.getByLabel('Login name').fill('ada lovelace');
  await page.getByLabel('E-mail').fill('not-an-address');
  await page.getByLabel('Display name').fill('Ada Admin');
  await page.getByLabel('Password', { exact: true }).fill('admin-password-1');
  await page.getByLabel('Password again').fill('admin-password-2');
  await expectRefused(page, 'Create administrator', [
    'Remove the spaces.',
    'Enter an e-mail address like name@example.org.',
    'The two passwords are not the same.',
  ]);
  await expect(page.getByLabel('Login name')).toHaveValue('ada lovelace');
  await expect(page.getByLabel('E-mail')).toHaveValue('not-an-address');
  await expect(page.getByLabel('Display name')).toHaveValue('Ada Admin');
  await expect(page.getByLabel('Password', { exact: true })).toHaveValue('');
  // A summary link takes one to its field.
  await page.locator('#outcome').getByRole('link', { name: 'Remove the spaces.' }).click();
  await expect(page).toHaveURL(/#problem-login$/);
  // Fixed, it goes through.
  await page.getByLabel('Login name').fill('admin');
  await page.getByLabel('E-mail').fill('admin@example.org');
  await page.getByLabel('Password', { exact: true }).fill(ADMIN);
  await page.getByLabel('Password again').fill(ADMIN);
  await page.getByRole('button', { name: 'Create administrator' }).click();
  await expect(page.getByRole('heading', { name: 'Administration' })).toBeVisible();

  // Add group: no name and a negative maximum; the description, branch and key stay.
  await page.goto('/groups/new');
  await page.getByLabel('Description').fill('Year 7, room 12');
  await page.getByText('Advanced options').click();
  await page.getByLabel('Group key').fill('Maple-Orbit-7142');
  await page.getByLabel('Maximum key uses').fill('-3');
  await page.getByLabel('Default group').check();
  await expectRefused(page, 'Create group', ['Enter a group name.', 'Enter a whole number from 0 (unlimited) to 1,000,000.']);
  await expect(page.getByLabel('Description')).toHaveValue('Year 7, room 12');
  await expect(page.getByLabel('Group key')).toHaveValue('Maple-Orbit-7142');
  await expect(page.getByLabel('Maximum key uses')).toHaveValue('-3');
  await expect(page.getByLabel('Default group')).toBeChecked();
  // Fixed, it is made, and the group's page says so at the top, focused.
  await page.getByLabel('Name', { exact: true }).fill('Physics 7');
  await page.getByLabel('Maximum key uses').fill('30');
  await page.getByRole('button', { name: 'Create group' }).click();
  await expect(page.locator('#outcome')).toHaveText('Group created.');
  await expect(page.locator('#outcome')).toBeFocused();
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Physics 7');

  // Add a user: a login with a space and a bad address; the display name stays.
  await page.goto('/users');
  await page.getByLabel('Login name').fill('lee x');
  await page.getByLabel('E-mail').fill('lee@');
  await page.getByLabel('Display name').fill('Lee Learner');
  await page.getByLabel('Initial password', { exact: true }).fill('learner-password-1');
  await page.getByLabel('Initial password again').fill('learner-password-1');
  await expectRefused(page, 'Create user', ['Remove the spaces.', 'Enter an e-mail address like name@example.org.']);
  await expect(page.getByLabel('Login name')).toHaveValue('lee x');
  await expect(page.getByLabel('Display name')).toHaveValue('Lee Learner');
  await expect(page.getByLabel('Initial password', { exact: true })).toHaveValue('');

  // Courses, branches and curricula: no name (or code) and a description over the limit.
  const long = 'x'.repeat(2001);
  await page.goto('/courses');
  await page.getByLabel('Code').fill('PHY 1');
  await page.getByLabel('Title').fill('');
  await page.getByLabel('Description').fill('Intro');
  await expectRefused(page, 'Create course', ["Use only letters A–Z, digits, '-', '_' and '.'.", 'Enter a title.']);
  await expect(page.getByLabel('Code')).toHaveValue('PHY 1');
  await expect(page.getByLabel('Description')).toHaveValue('Intro');

  for (const [path, button] of [['/branches', 'Create branch'], ['/curricula', 'Create curriculum']]) {
    await page.goto(path);
    await page.getByLabel('Name', { exact: true }).fill('');
    await page.getByLabel('Description').fill(long);
    await expectRefused(page, button, ['Enter a name.', 'Use at most 2000 characters (this has 2001).']);
    await expect(page.getByLabel('Description')).toHaveValue(long);
  }

  // A message to the group: no subject and no text.
  const groups = await api(page, 'list_groups', { query: 'Physics 7', sort: '', page: '1' });
  const g = groups.rows[0].id;
  await page.goto(`/groups/${g}?tab=messages`);
  await expectRefused(page, 'Send to members', ['Enter a subject.', 'Write the message.']);

  // Log in: both fields empty, after logging out.
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page.getByRole('heading', { name: 'Log in' })).toBeVisible();
  await expectRefused(page, 'Log in', ['Enter your login name or e-mail.', 'Enter your password.']);
  // A wrong password says so, and the name typed stays.
  await page.getByLabel('Login name or e-mail').fill('admin');
  await page.getByLabel('Password', { exact: true }).fill('not-the-password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.locator('#outcome')).toBeFocused();
  await expect(page.locator('#outcome')).toContainText('The login name or e-mail, or the password, is not correct.');
  await expect(page.getByLabel('Login name or e-mail')).toHaveValue('admin');

  expect(panics).toEqual([]);
});
