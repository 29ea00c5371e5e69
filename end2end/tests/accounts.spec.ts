import { test, expect, Page, asNewAdmin, ADMIN_PASSWORD } from './fixtures';
import { api, expectAccessible, expectHydratedIfJs, jsOn, logIn, logOut, nav, watchPanics } from './helpers';

// Each flow runs in every project ('js', 'nojs' and 'phone': JavaScript on, hydrated app; off,
// plain HTML forms; phone width), each test against a fresh server and data directory of its own
// (fixtures.ts).

test('accounts: set-up, login, create a learner, learner is refused the Users page', async ({ page }, info) => {
  const js = jsOn();
  const wasmLoaded: string[] = [];
  page.on('response', (r) => {
    if (r.url().endsWith('.wasm') && r.ok()) wasmLoaded.push(r.url());
  });
  const pageErrors = watchPanics(page);

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
  await expect(page.locator('.field-error', { hasText: 'The two passwords are not the same.' })).toBeVisible();
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
  await expect(page.locator('#outcome').getByText('The login name or e-mail, or the password, is not correct.')).toBeVisible();
  await logIn(page, 'ADMIN@example.org', 'admin-password-1');
  await expect(page.getByRole('heading', { name: 'Administration' })).toBeVisible();

  // Create a learner on the Users page.
  await nav(page, 'Users').click();
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
  await expect(page).toHaveURL(/\/users\/\d+(\?__done=[^&]*)?$/);
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

async function addLesson(page: Page, title: string, text: string) {
  const form = page.getByRole('region', { name: 'Add a lesson' });
  await form.getByLabel('Lesson title').fill(title);
  await form.getByLabel('Text').fill(text);
  await form.getByRole('button', { name: 'Add lesson' }).click();
  await expect(page.getByRole('region', { name: 'Lessons' }).getByText(title, { exact: true })).toBeVisible();
}

async function createCourse(page: Page, code: string, title: string) {
  await nav(page, 'Courses').click();
  await expect(page.getByRole('heading', { name: 'Courses', exact: true })).toBeVisible();
  const form = page.getByRole('region', { name: 'Add a course' });
  await form.getByLabel('Code').fill(code);
  await form.getByLabel('Title').fill(title);
  await form.getByRole('button', { name: 'Create course' }).click();
  await expect(page).toHaveURL(/\/courses\/\d+(\?__done=[^&]*)?$/);
  await expect(page.getByRole('heading', { name: title, level: 1 })).toBeVisible();
}

// A search is a plain GET form (a full page load): with JavaScript, wait for the new page to
// hydrate before using its action buttons.
async function pickAndAdd(page: Page, searchLabel: string, query: string, button: string) {
  const box = page.getByRole('searchbox', { name: searchLabel });
  await box.fill(query);
  await box.press('Enter');
  await expect(page).toHaveURL(new RegExp(`=${query}$`));
  await expectHydratedIfJs(page, jsOn());
  await page.getByRole('button', { name: button }).click();
}

// The group's Courses tab lists the courses not yet attached at once; a search (any part of
// the code or title) narrows the list, and one button attaches every ticked course.
async function tickAndAttach(page: Page, query: string, codes: string[]) {
  const box = page.getByRole('searchbox', { name: 'Find courses to add' });
  await box.fill(query);
  await box.press('Enter');
  await expect(page).toHaveURL(new RegExp(`cq=${query}$`));
  await expectHydratedIfJs(page, jsOn());
  const list = page.getByRole('group', { name: 'Courses not in the group yet' });
  for (const code of codes) await list.getByRole('checkbox', { name: new RegExp(`^${code} `) }).check();
  await page.getByRole('button', { name: 'Attach selected courses' }).click();
}

test('catalog: branch, course with lessons, curriculum, enrolment; the learner completes a course', async ({ page }, info) => {
  const js = jsOn();
  const panics = watchPanics(page);
  await asNewAdmin(page);

  // A learner for this test.
  await nav(page, 'Users').click();
  const userForm = page.getByRole('region', { name: 'Add a user' });
  await userForm.getByLabel('Login name').fill('cat');
  await userForm.getByLabel('E-mail').fill('cat@example.org');
  await userForm.getByLabel('Display name').fill('Cat Learner');
  await userForm.getByLabel('Initial password', { exact: true }).fill('learner-password-2');
  await userForm.getByLabel('Initial password again').fill('learner-password-2');
  await userForm.getByRole('button', { name: 'Create user' }).click();
  await expect(page.getByRole('heading', { name: 'Cat Learner' })).toBeVisible();

  // A branch.
  await nav(page, 'Branches').click();
  const branchForm = page.getByRole('region', { name: 'Add a branch' });
  await branchForm.getByLabel('Name').fill('North Campus');
  await branchForm.getByLabel('Description').fill('The main site');
  await branchForm.getByRole('button', { name: 'Create branch' }).click();
  await expect(page.getByRole('link', { name: 'North Campus' })).toBeVisible();
  await expectAccessible(page);

  // A course with three lessons, and a second one with one.
  await createCourse(page, 'PHY-101', 'Physics');
  await addLesson(page, 'Motion', 'Things move.\nSome faster than others.');
  await addLesson(page, 'Forces', 'Push and pull.');
  await addLesson(page, 'Energy', '<b>not bold</b>: text is shown as text.');
  await expectAccessible(page);
  await createCourse(page, 'CHEM-101', 'Chemistry');
  await addLesson(page, 'Atoms', 'Small.');

  // A curriculum with both courses; the learner is enrolled in it.
  await nav(page, 'Curricula').click();
  const curForm = page.getByRole('region', { name: 'Add a curriculum' });
  await curForm.getByLabel('Name').fill('Science Path');
  await curForm.getByRole('button', { name: 'Create curriculum' }).click();
  await expect(page).toHaveURL(/\/curricula\/\d+(\?__done=[^&]*)?$/);
  await pickAndAdd(page, 'Find courses to add', 'PHY', 'Add PHY-101');
  await expect(page.getByRole('region', { name: 'Courses' }).getByRole('link', { name: 'PHY-101' })).toBeVisible();
  await pickAndAdd(page, 'Find courses to add', 'CHEM', 'Add CHEM-101');
  await expect(page.getByRole('region', { name: 'Courses' }).getByRole('link', { name: 'CHEM-101' })).toBeVisible();
  await pickAndAdd(page, 'Find users to enrol', 'cat', 'Enrol cat');
  // Pages are rendered on the server (JavaScript or not): the form's way back says it worked.
  await expect(page.getByText('Enrolled in every course of the curriculum')).toBeVisible();
  await expectAccessible(page);

  // The course page lists the learner, enrolled through the curriculum.
  await nav(page, 'Courses').click();
  await page.getByRole('link', { name: 'PHY-101' }).click();
  const enrolled = page.getByRole('region', { name: 'Enrolled learners' });
  await expect(enrolled.getByRole('cell', { name: /Cat Learner/ })).toBeVisible();
  await expect(enrolled.getByRole('cell', { name: 'curriculum' })).toBeVisible();

  // The learner sees both courses under the curriculum and completes Physics.
  await logOut(page);
  await logIn(page, 'cat', 'learner-password-2');
  await expect(page.getByRole('heading', { name: 'My courses' })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Science Path' })).toBeVisible();
  await expect(page.getByRole('link', { name: /Chemistry/ })).toBeVisible();
  await page.getByRole('link', { name: /Physics/ }).click();
  await expect(page.getByRole('heading', { name: 'Physics', level: 1 })).toBeVisible();
  await expectAccessible(page);
  await page.getByRole('link', { name: 'Motion' }).click();
  for (const [title, next] of [['Motion', true], ['Forces', true], ['Energy', false]] as const) {
    await expect(page.getByRole('heading', { name: title, level: 1 })).toBeVisible();
    await page.getByRole('button', { name: 'Mark as done' }).click();
    await expect(page.getByRole('button', { name: 'Mark as not done' })).toBeVisible();
    if (next) await page.getByRole('link', { name: 'Next lesson →' }).click();
  }
  await expect(page.getByText('<b>not bold</b>: text is shown as text.')).toBeVisible();
  await expectAccessible(page);
  await page.getByRole('link', { name: '← Physics' }).click();
  await expect(page.getByText('You have completed this course.')).toBeVisible();
  const bar = page.getByRole('progressbar', { name: 'Your progress in this course' });
  await expect(bar).toHaveAttribute('value', '3');
  await expect(bar).toHaveAttribute('max', '3');
  await page.getByRole('link', { name: '← My courses' }).click();
  await expect(page.getByRole('progressbar', { name: 'Progress in Physics' })).toHaveAttribute('value', '3');
  await expect(page.getByRole('progressbar', { name: 'Progress in Chemistry' })).toHaveAttribute('value', '0');
  await expect(page.getByText('Completed', { exact: true })).toBeVisible();
  expect(panics).toEqual([]);
});

async function createUser(page: Page, login: string, name: string) {
  await nav(page, 'Users').click();
  const form = page.getByRole('region', { name: 'Add a user' });
  await form.getByLabel('Login name').fill(login);
  await form.getByLabel('E-mail').fill(`${login}@example.org`);
  await form.getByLabel('Display name').fill(name);
  await form.getByLabel('Initial password', { exact: true }).fill('learner-password-3');
  await form.getByLabel('Initial password again').fill('learner-password-3');
  await form.getByRole('button', { name: 'Create user' }).click();
  await expect(page.getByRole('heading', { name })).toBeVisible();
}

// "Advanced options" starts open when the group has a key or is the default.
async function openAdvanced(page: Page) {
  if (!(await page.getByLabel('Group key').isVisible())) await page.getByText('Advanced options').click();
  await expect(page.getByLabel('Group key')).toBeVisible();
}

function groupTab(page: Page, name: string) {
  return page.getByRole('navigation', { name: 'Group sections' }).getByRole('link', { name });
}

test('groups: create in a branch, edit, members, course, bulk add, default badge, delete', async ({ page }, info) => {
  const js = jsOn();
  const panics = watchPanics(page);
  await asNewAdmin(page);

  await createUser(page, 'gus', 'Gus Member');
  await createUser(page, 'gwen', 'Gwen Member');
  await createUser(page, 'gia', 'Gia Member');
  await nav(page, 'Branches').click();
  const branchForm = page.getByRole('region', { name: 'Add a branch' });
  await branchForm.getByLabel('Name').fill('East Campus');
  await branchForm.getByRole('button', { name: 'Create branch' }).click();
  await expect(page.getByRole('link', { name: 'East Campus' })).toBeVisible();
  await createCourse(page, 'GRP-101', 'Lab Safety');

  // An empty groups table, then the add form.
  await nav(page, 'Groups').click();
  await expect(page.getByRole('heading', { name: 'Groups', level: 1 })).toBeVisible();
  await expect(page.getByText('No groups yet. Add one to start.')).toBeVisible();
  await expectAccessible(page);
  await page.getByRole('link', { name: 'Add group' }).click();
  await expect(page.getByRole('heading', { name: 'Add group' })).toBeVisible();
  await expectHydratedIfJs(page, js);
  await expectAccessible(page);
  // A name is required: the error sits next to the field and nothing is created.
  await page.getByRole('button', { name: 'Create group' }).click();
  await expect(page.locator('.field-error', { hasText: 'Enter a group name.' })).toBeVisible();
  await expect(page.getByLabel('Name')).toHaveAttribute('aria-invalid', 'true');
  await page.getByLabel('Name').fill('Physics 101');
  await page.getByLabel('Branch').selectOption({ label: 'East Campus' });
  await page.getByLabel('Description').fill('Thursday lab group');
  await page.getByRole('button', { name: 'Create group' }).click();
  await expect(page).toHaveURL(/\/groups\/\d+(\?__done=[^&]*)?$/);
  await expect(page.getByRole('heading', { name: 'Physics 101', level: 1 })).toBeVisible();
  await expect(page.getByText('Thursday lab group')).toBeVisible();
  await expect(page.getByText('East Campus')).toBeVisible();
  await expectAccessible(page);

  // Edit: a bad "Maximum key uses" is refused next to its field; then a key and a limit.
  await page.getByRole('link', { name: 'Edit group' }).click();
  await expect(page.getByRole('heading', { name: 'Edit “Physics 101”' })).toBeVisible();
  await expectHydratedIfJs(page, js);
  await expectAccessible(page);
  await openAdvanced(page);
  await page.getByLabel('Maximum key uses').fill('-3');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.locator('.field-error', { hasText: 'Enter a whole number from 0 (unlimited) to 1,000,000.' })).toBeVisible();
  await page.getByLabel('Description').fill('Thursday and Friday lab group');
  await page.getByLabel('Group key').fill('phys-2027');
  await page.getByLabel('Maximum key uses').fill('50');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByText('Changes saved.')).toBeVisible();
  await page.getByRole('link', { name: '← Physics 101' }).click();
  await expect(page.getByText('Thursday and Friday lab group')).toBeVisible();
  await expect(page.getByText('phys-2027')).toBeVisible();
  await expect(page.getByText('0 / 50 uses')).toBeVisible();

  // Users tab: two users by the picker.
  await pickAndAdd(page, 'Find users to add', 'gus', 'Add gus to the group');
  const members = page.getByRole('table', { name: 'Members' });
  await expect(members.getByRole('cell', { name: 'gus', exact: true })).toBeVisible();
  await pickAndAdd(page, 'Find users to add', 'gwen', 'Add gwen to the group');
  await expect(members.getByRole('cell', { name: 'gwen', exact: true })).toBeVisible();
  await expect(members.getByRole('cell', { name: 'manual' })).toHaveCount(2);
  await expectAccessible(page);

  // Bulk add: one new user by e-mail, one already a member, one unknown.
  await expectHydratedIfJs(page, js);
  // A CSV file is uploaded by its own form (with JavaScript or without).
  const csv = 'login,note\nGIA@example.org,new\ngus,again\nnobody-here,unknown\n';
  const file = { name: 'members.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) };
  // A file that is not text is refused next to the field, and nothing is added.
  await page.getByLabel('Or upload a CSV or text file').setInputFiles({ name: 'photo.csv', mimeType: 'text/csv', buffer: Buffer.from([0xff, 0xfe, 0x00, 0x41]) });
  await page.getByRole('button', { name: 'Upload and add' }).click();
  await expect(page.getByLabel('Or upload a CSV or text file')).toHaveAccessibleDescription(/This file is not UTF-8 text/);
  await expect(members.getByRole('row')).toHaveCount(3);
  await page.getByLabel('Or upload a CSV or text file').setInputFiles(file);
  await page.getByRole('button', { name: 'Upload and add' }).click();
  await expect(page.getByText('Last bulk add: 1 added, 1 already members, 1 unknown, 0 invalid.')).toBeVisible();
  const report = page.getByRole('table', { name: 'Result per row' });
  await expect(report.getByRole('row', { name: /GIA@example\.org Added/ })).toBeVisible();
  await expect(report.getByRole('row', { name: /gus Already a member/ })).toBeVisible();
  await expect(report.getByRole('row', { name: /nobody-here Unknown user/ })).toBeVisible();
  await expect(members.getByRole('cell', { name: 'gia', exact: true })).toBeVisible();
  await expect(members.getByRole('cell', { name: 'added in bulk' })).toBeVisible();
  await expectAccessible(page);

  // Courses tab: attach the course.
  await groupTab(page, 'Courses').click();
  await expect(page).toHaveURL(/tab=courses/);
  // Listed before any search; a part of the code finds it too.
  await expect(page.getByRole('group', { name: 'Courses not in the group yet' }).getByRole('checkbox', { name: /^GRP-101 / })).toBeVisible();
  await tickAndAttach(page, 'rp-1', ['GRP-101']);
  await expect(page.getByRole('region', { name: 'Courses and curricula' }).getByRole('link', { name: 'GRP-101' })).toBeVisible();
  // Removing asks first, as deleting the group does.
  const removeCourse = page.getByRole('button', { name: 'Remove course GRP-101 from the group' });
  await expect(removeCourse).toBeHidden();
  await page.getByRole('region', { name: 'Courses and curricula' }).getByText('Remove…').click();
  await expect(removeCourse).toBeVisible();
  await expectAccessible(page);

  // Activity lists what happened.
  await groupTab(page, 'Activity').click();
  await expect(page.getByText('Group created').first()).toBeVisible();
  await expect(page.getByText('Bulk add: 1 user(s) added.')).toBeVisible();
  await expectAccessible(page);

  // Make it the default group: the badge shows on its page and in the table.
  await page.goto(page.url().replace(/\?.*$/, '/edit'));
  await expectHydratedIfJs(page, js);
  await openAdvanced(page);
  await page.getByLabel('Default group').check();
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByText('Changes saved.')).toBeVisible();
  await nav(page, 'Groups').click();
  const row = (name: string) => page.getByRole('row').filter({ has: page.getByRole('link', { name, exact: true }) });
  await expect(row('Physics 101').getByText('Default', { exact: true })).toBeVisible();
  await expect(row('Physics 101').getByRole('cell', { name: '3', exact: true })).toBeVisible();

  // A second group made the default at creation: the badge moves to it.
  await page.getByRole('link', { name: 'Add group' }).click();
  await expectHydratedIfJs(page, js);
  // "Generate" fills the key field: in place with JavaScript, by reloading the form without.
  await openAdvanced(page);
  await page.getByRole('link', { name: 'Generate' }).click();
  await expect(page.getByLabel('Group key')).toHaveValue(/^[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}$/);
  // The key field is an island: with JavaScript the page stays where it was.
  await expect(page).toHaveURL(js ? /\/groups\/new$/ : /generate=1/);
  await expectHydratedIfJs(page, js);
  await page.getByLabel('Name').fill('Chemistry 7');
  await expect(page.getByText('“Physics 101” is the default group now')).toBeVisible();
  await page.getByLabel('Default group').check();
  // Enter in a field saves the form (it does not press Generate).
  await page.getByLabel('Name').press('Enter');
  await expect(page.getByRole('heading', { name: /Chemistry 7/, level: 1 })).toBeVisible();
  await expect(page.getByText(/^[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}$/)).toBeVisible();
  await expect(page.getByText('Default group', { exact: true })).toBeVisible();
  await nav(page, 'Groups').click();
  await expect(row('Chemistry 7').getByText('Default', { exact: true })).toBeVisible();
  await expect(row('Physics 101').getByText('Default', { exact: true })).toHaveCount(0);
  await expectAccessible(page);

  // Search by any part of the name, then delete the other group from its row.
  await page.getByRole('searchbox', { name: 'Search groups' }).fill('YSICS');
  await page.getByRole('searchbox', { name: 'Search groups' }).press('Enter');
  await expect(row('Physics 101')).toBeVisible();
  await expect(row('Chemistry 7')).toHaveCount(0);
  await page.goto('/groups');
  await expectHydratedIfJs(page, js);
  await row('Chemistry 7').getByText('Delete…').click();
  await expect(row('Chemistry 7').getByText('Its memberships and its course links go; users\' enrolments and progress stay.', { exact: false })).toBeVisible();
  await row('Chemistry 7').getByRole('button', { name: 'Delete group Chemistry 7' }).click();
  await expect(row('Chemistry 7')).toHaveCount(0);
  await expect(row('Physics 101')).toBeVisible();
  expect(panics).toEqual([]);
});

// Another site cannot frame Tessera (clickjacking): the browser refuses to show it in a frame.
test('framing: pages refuse to be shown inside another site', async ({ page, baseURL }) => {
  const target = `${baseURL}/login`;
  await page.setContent(`<h1>decoy</h1><iframe title="framed" src="${target}" width="600" height="400"></iframe>`);
  const handle = await page.locator('iframe[title="framed"]').elementHandle();
  const inner = await handle!.contentFrame();
  await inner!.waitForLoadState('load');
  await expect(page.frameLocator('iframe[title="framed"]').getByRole('button', { name: 'Log in' })).toHaveCount(0);
  const direct = await page.request.get(target);
  expect(direct.headers()['x-frame-options']).toBe('DENY');
  expect(direct.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
});

test('default group: a new user joins it and has its courses and its curriculum at once', async ({ page }) => {
  const panics = watchPanics(page);
  await asNewAdmin(page);
  const c1 = await api(page, 'create_course', { code: 'DG-1', title: 'Welcome', description: '' });
  const c2 = await api(page, 'create_course', { code: 'DG-2', title: 'Safety first', description: '' });
  const c3 = await api(page, 'create_course', { code: 'DG-3', title: 'Study skills', description: '' });
  for (const c of [c1, c2, c3]) {
    await api(page, 'change_lesson', { course: String(c.id), op: 'add', title: 'Start here', text: 'Hello.' });
  }
  const path = await api(page, 'create_curriculum', { name: 'Starter path', description: '' });
  await api(page, 'change_curriculum_course', { id: String(path.id), course: String(c3.id), op: 'add' });
  const saved = await api(page, 'create_group', {
    name: 'Everyone', description: '', branch: '', key: '', max_uses: '', valid_from: '', valid_until: '',
    key_enabled: 'on', is_default: 'on',
  });
  const g = String(saved.group.id);
  await api(page, 'change_group_link', { id: g, kind: 'course', target: String(c1.id), op: 'add' });
  await api(page, 'change_group_link', { id: g, kind: 'course', target: String(c2.id), op: 'add' });
  await api(page, 'change_group_link', { id: g, kind: 'curriculum', target: String(path.id), op: 'add' });

  // The Users page says where new users go.
  await nav(page, 'Users').click();
  await expect(page.getByRole('region', { name: 'Add a user' }).getByRole('link', { name: 'Everyone' })).toBeVisible();
  await expectAccessible(page);
  await createUser(page, 'neo', 'Neo Newcomer');
  await logOut(page);
  await logIn(page, 'neo', 'learner-password-3');
  await expect(page.getByRole('heading', { name: 'My courses' })).toBeVisible();
  for (const title of ['Welcome', 'Safety first', 'Study skills']) {
    await expect(page.getByRole('link', { name: title })).toBeVisible();
  }
  await expectAccessible(page);
  expect(panics).toEqual([]);
});

test.describe('mass enrolment', () => {
// Small steps, so the job lasts long enough to watch its bar move.
test.use({ serverArgs: ['--job-step-pairs', '2'] });
test('mass enrolment: a group of 500 enrolled in its courses with a live progress bar and a summary', async ({ page }) => {
  test.setTimeout(180_000);
  const panics = watchPanics(page);
  await asNewAdmin(page);
  const logins: string[] = [];
  for (let i = 0; i < 500; i += 10) {
    await Promise.all(Array.from({ length: 10 }, (_, k) => {
      const login = `m${i + k}`;
      logins.push(login);
      return api(page, 'create_user', {
        login, email: `${login}@example.org`, display_name: `Member ${i + k}`, role: 'learner',
        password: 'member-password-1', password_confirm: 'member-password-1',
      });
    }));
  }
  const c1 = await api(page, 'create_course', { code: 'ME-1', title: 'Orientation', description: '' });
  const c2 = await api(page, 'create_course', { code: 'ME-2', title: 'Fire drill', description: '' });
  const saved = await api(page, 'create_group', {
    name: 'Year 9', description: '', branch: '', key: '', max_uses: '', valid_from: '', valid_until: '',
  });
  const g = saved.group.id;
  await api(page, 'bulk_add_group_members', { id: String(g), text: logins.join('\n') });
  await api(page, 'change_group_link', { id: String(g), kind: 'course', target: String(c1.id), op: 'add' });

  // Attaching a course from the page asks whether to enrol the members now.
  await page.goto(`/groups/${g}?tab=courses`);
  await expectHydratedIfJs(page, jsOn());
  await tickAndAttach(page, 'ME-2', ['ME-2']);
  await expect(page.getByText("Enrol the group's 500 current members in its courses now?")).toBeVisible();
  await expectAccessible(page);
  await page.getByRole('button', { name: 'Enrol them now' }).click();
  const bar = page.getByRole('progressbar', { name: 'Mass enrolment progress' });
  // Without JavaScript the page shows where the job is; reloading shows the end.
  const untilShown = async (text: RegExp | string) => {
    if (jsOn()) return expect(page.getByText(text)).toBeVisible({ timeout: 60_000 });
    for (let i = 0; i < 120 && !(await page.getByText(text).isVisible()); i++) {
      await page.waitForTimeout(500);
      if (await bar.isVisible()) await page.getByRole('link', { name: 'Refresh' }).click();
      else await page.reload();
    }
    await expect(page.getByText(text)).toBeVisible();
  };
  if (jsOn()) {
    // The bar moves without a reload (the live region island puts the new progress in place),
    // then the summary replaces it. A mark on the window shows that the page was not loaded again.
    await page.waitForURL((u) => u.searchParams.get('tab') === 'courses');
    await expectHydratedIfJs(page, true);
    await page.evaluate(() => { (window as any).__sameLoad = true; });
    await expect(bar).toBeVisible();
    // Read in one step: the bar may go (the run finished) between two separate reads, and a
    // read that waits for a bar that is gone waits for ever.
    const now = () => bar.evaluateAll((els) => (els.length ? Number(els[0].getAttribute('value')) : 500));
    const first = await now();
    if (first < 500) await expect.poll(now, { timeout: 60_000 }).toBeGreaterThan(first);
    await expect(page.getByText('Last run finished.')).toBeVisible({ timeout: 60_000 });
    expect(await page.evaluate(() => (window as any).__sameLoad)).toBe(true);
  } else {
    await untilShown('Last run finished.');
  }
  await expect(page.getByText(/500 members × 2 courses: 1,000 new enrolments, 0 already there/)).toBeVisible();
  await expectAccessible(page);
  // Again: nobody new, and it says so.
  await page.getByRole('button', { name: "Enrol all members in the group's courses" }).click();
  await untilShown(/500 members × 2 courses: 0 new enrolments, 1,000 already there/);
  // The group's activity has the summary.
  await page.getByRole('navigation', { name: 'Group sections' }).getByRole('link', { name: 'Activity' }).click();
  await expect(page.getByText(/Mass enrolment started by admin: 500 members × 2 courses: 1,000 new enrolments/)).toBeVisible();
  expect(panics).toEqual([]);
});
});

test('import: a CSV with a bad row and a quoted name with a comma; preview, apply, result file, set-password link', async ({ page }) => {
  test.setTimeout(120_000);
  const panics = watchPanics(page);
  await asNewAdmin(page);
  const course = await api(page, 'create_course', { code: 'PH-1', title: 'Mechanics', description: '' });
  await api(page, 'change_lesson', { course: String(course.id), op: 'add', title: 'Forces', text: 'Push.' });
  const saved = await api(page, 'create_group', {
    name: 'Physics', description: '', branch: '', key: '', max_uses: '', valid_from: '', valid_until: '',
  });
  await api(page, 'change_group_link', { id: String(saved.group.id), kind: 'course', target: String(course.id), op: 'add' });

  await nav(page, 'Users').click();
  await page.getByRole('link', { name: 'Import users' }).click();
  await expect(page.getByRole('heading', { name: 'Import users', level: 1 })).toBeVisible();
  await expectAccessible(page);
  // A file that is not text is refused by its field.
  const file = page.getByLabel('CSV file', { exact: true });
  await file.setInputFiles({ name: 'photo.csv', mimeType: 'text/csv', buffer: Buffer.from([0xff, 0xfe, 0x00, 0x41]) });
  await page.getByRole('button', { name: 'Upload and preview' }).click();
  await expect(page.locator('#import-file-error')).toContainText('This file is not UTF-8 text.');
  await expect(page.getByLabel('CSV file', { exact: true })).toHaveAttribute('aria-invalid', 'true');

  const csv = 'login,email,display name,role,password,groups\n'
    + 'ada,ada@example.org,"Lovelace, Ada",learner,,Physics\n'
    + 'bob,bob@example.org,Bob Builder,learner,bob-password-1,\n'
    + 'bad,not-an-email,Bad Row,,,\n';
  await page.getByLabel('CSV file', { exact: true }).setInputFiles({ name: 'people.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await page.getByRole('button', { name: 'Upload and preview' }).click();
  await expect(page.getByRole('heading', { name: 'Import of people.csv' })).toBeVisible();
  const table = page.getByRole('table', { name: 'Rows of the import' });
  await expect(table.getByRole('row', { name: /Lovelace, Ada/ })).toContainText('Will be created');
  await expect(table.getByRole('row', { name: /Bad Row/ })).toContainText('Invalid email');
  await expect(page.getByText('2 will be created; 0 skipped because the user exists; 1 invalid')).toBeVisible();
  await expectAccessible(page);

  await expectHydratedIfJs(page, jsOn());
  await page.getByRole('button', { name: 'Create 2 user(s)' }).click();
  const done = page.getByText('2 created; 0 skipped because the user exists; 1 invalid; 0 failed.');
  for (let i = 0; i < 60 && !(await done.isVisible()); i++) {
    await page.waitForTimeout(500);
    if (!jsOn()) await page.reload();
  }
  await expect(done).toBeVisible();
  await expectAccessible(page);

  // The result file has every row; Ada (no password given) has a set-password link.
  const downloading = page.waitForEvent('download');
  await page.getByRole('link', { name: 'Download the result (CSV)' }).click();
  const saved_file = await (await downloading).path();
  const result = (await import('fs')).readFileSync(saved_file!, 'utf8');
  expect(result).toContain('2,ada,ada@example.org,"Lovelace, Ada",learner,Physics,created,,');
  expect(result).toContain(',invalid,');
  const link = await page.getByLabel('Set-password link for ada').inputValue();
  expect(result).toContain(link);
  expect(link).toMatch(/\/set-password\?token=[0-9a-f]{32}$/);

  // Ada sets her password with the link, logs in and finds the group's course.
  await logOut(page);
  await page.goto(link);
  await expect(page.getByText('Choose the password for your account ada.')).toBeVisible();
  await expectAccessible(page);
  await page.getByLabel('New password', { exact: true }).fill('ada-password-1');
  await page.getByLabel('New password again').fill('ada-password-1');
  await page.getByRole('button', { name: 'Set password' }).click();
  await expect(page.getByText('Your password is set. Log in with it.')).toBeVisible();
  await logIn(page, 'ada', 'ada-password-1');
  await expect(page.getByRole('link', { name: 'Mechanics' })).toBeVisible();
  await logOut(page);
  // The link worked once.
  await page.goto(link);
  await expect(page.getByText(/used already/)).toBeVisible();
  expect(panics).toEqual([]);
});

test('group key: learners join with a key until its uses run out', async ({ page }) => {
  const panics = watchPanics(page);
  await asNewAdmin(page);
  const course = await api(page, 'create_course', { code: 'PK-1', title: 'Optics', description: '' });
  await api(page, 'change_lesson', { course: String(course.id), op: 'add', title: 'Light', text: 'Bright.' });
  const saved = await api(page, 'create_group', {
    name: 'Physics 2026', description: '', branch: '', key: 'PHYS-2026', max_uses: '2', valid_from: '', valid_until: '',
    key_enabled: 'on',
  });
  await api(page, 'change_group_link', { id: String(saved.group.id), kind: 'course', target: String(course.id), op: 'add' });
  for (const l of ['ann', 'ben', 'cal']) {
    await api(page, 'create_user', {
      login: l, email: `${l}@example.org`, display_name: `Learner ${l}`, role: 'learner',
      password: 'learner-password-3', password_confirm: 'learner-password-3',
    });
  }
  await logOut(page);
  const join = async (who: string, key: string) => {
    await nav(page, 'Join a group').click();
    await expect(page.getByRole('heading', { name: 'Join a group', level: 1 })).toBeVisible();
    await expectHydratedIfJs(page, jsOn());
    await page.getByLabel('Group key', { exact: true }).fill(key);
    await page.getByRole('button', { name: 'Join' }).click();
  };
  const errorOfKey = page.locator('#join-key-error');
  await logIn(page, 'ann', 'learner-password-3');
  await join('ann', ' phys-2026 ');
  await expect(page.getByRole('heading', { name: 'You joined Physics 2026' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Optics' })).toBeVisible();
  await expectAccessible(page);
  await join('ann', 'PHYS-2026');
  await expect(errorOfKey).toHaveText('You are already a member of Physics 2026. Nothing was changed.');
  await expectAccessible(page);
  await logOut(page);
  await logIn(page, 'ben', 'learner-password-3');
  await join('ben', 'PHYS-2026');
  await expect(page.getByRole('heading', { name: 'You joined Physics 2026' })).toBeVisible();
  await logOut(page);
  await logIn(page, 'cal', 'learner-password-3');
  await join('cal', 'WRONG-KEY');
  await expect(errorOfKey).toContainText('No group has this key.');
  await join('cal', 'PHYS-2026');
  await expect(errorOfKey).toHaveText('This key has been used as many times as it may be.');
  await page.goto('/');
  await expect(page.getByText('You are not enrolled in any course yet.')).toBeVisible();
  await logOut(page);
  // The administrator sees who joined with the key.
  await logIn(page, 'admin', ADMIN_PASSWORD);
  await expect(page.getByRole('heading', { name: 'Administration' })).toBeVisible();
  await page.goto(`/groups/${saved.group.id}?tab=activity`);
  const redemptions = page.getByRole('table', { name: 'Key redemptions' });
  await expect(redemptions.getByRole('row')).toHaveCount(3);
  await expect(redemptions.getByRole('row', { name: /ann/ })).toContainText('PHYS-2026');
  await expect(redemptions.getByRole('row', { name: /ben/ })).toBeVisible();
  await expectAccessible(page);

  // The key's buttons: disable, enable, regenerate; the copy button only with JavaScript.
  await page.goto(`/groups/${saved.group.id}`);
  const keyText = page.locator('#group-key-text');
  await expect(keyText).toHaveText('PHYS-2026');
  const copy = page.getByRole('button', { name: 'Copy the group key' });
  if (jsOn()) {
    await expectHydratedIfJs(page, true);
    await expect(copy).toBeVisible();
    await copy.click();
    await expect(page.locator('.copy-said')).toHaveText(/Copied|Selected/);
  } else {
    await expect(copy).toBeHidden();
  }
  await page.getByRole('button', { name: 'Disable key' }).click();
  await expect(page.locator('.group-head').getByText('Disabled', { exact: true })).toBeVisible();
  await expect(page.getByText('Key disabled.')).toBeVisible();
  await page.getByRole('button', { name: 'Enable key' }).click();
  await expect(page.getByText('Key enabled.')).toBeVisible();
  // On again, and still used up: both of its uses are taken.
  await expect(page.locator('.group-head').getByText('Used up', { exact: true })).toBeVisible();
  await page.getByText('Regenerate key…').click();
  await page.getByRole('button', { name: 'Regenerate key', exact: true }).click();
  await expect(keyText).not.toHaveText('PHYS-2026');
  const fresh = (await keyText.textContent())!.trim();
  expect(fresh).toMatch(/^[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}$/);
  await expect(page.getByText(`New key made: ${fresh}. The old key no longer works.`)).toBeVisible();
  await expect(page.locator('.group-head')).toContainText('0 / 2 uses');
  await expect(page.locator('.group-head').getByText('Active', { exact: true })).toBeVisible();
  await expectAccessible(page);
  await api(page, 'save_settings', { self_registration: 'on' });
  await logOut(page);

  // The old key is unknown now; members who joined with it stay.
  await logIn(page, 'cal', 'learner-password-3');
  await join('cal', 'PHYS-2026');
  await expect(errorOfKey).toContainText('No group has this key.');
  await logOut(page);
  await logIn(page, 'ann', 'learner-password-3');
  await expect(page.getByRole('link', { name: 'Optics' })).toBeVisible();
  await logOut(page);

  // A newcomer signs up with the new key (typed in lower case) and lands in its courses.
  await page.getByRole('link', { name: 'Sign up' }).click();
  await expect(page.getByRole('heading', { name: 'Sign up' })).toBeVisible();
  await expectHydratedIfJs(page, jsOn());
  await page.getByLabel('Login name').fill('dora');
  await page.getByLabel('E-mail').fill('dora@example.org');
  await page.getByLabel('Display name').fill('Dora D');
  await page.getByLabel('Password', { exact: true }).fill('learner-password-4');
  await page.getByLabel('Password again').fill('learner-password-4');
  await page.getByLabel('Group key').fill('PHYS-1234');
  await page.getByRole('button', { name: 'Create my account' }).click();
  await expect(page.locator('#signup-key-error')).toContainText('No group has this key.');
  await page.getByLabel('Login name').fill('dora');
  await page.getByLabel('E-mail').fill('dora@example.org');
  await page.getByLabel('Display name').fill('Dora D');
  await page.getByLabel('Password', { exact: true }).fill('learner-password-4');
  await page.getByLabel('Password again').fill('learner-password-4');
  await page.getByLabel('Group key').fill(` ${fresh.toLowerCase()} `);
  await expectAccessible(page);
  await page.getByRole('button', { name: 'Create my account' }).click();
  await expect(page.getByRole('heading', { name: 'You joined Physics 2026' })).toBeVisible();
  await page.getByRole('link', { name: 'Optics' }).click();
  await expect(page.getByRole('heading', { name: 'Optics' })).toBeVisible();
  expect(panics).toEqual([]);
});

test('group manager: sees and copies the group key, adds a member by login, removes one', async ({ page }) => {
  const panics = watchPanics(page);
  await asNewAdmin(page);
  const saved = await api(page, 'create_group', {
    name: 'Physics 2028', description: '', branch: '', key: 'PHYS-2028', max_uses: '30', valid_from: '', valid_until: '',
    key_enabled: 'on',
  });
  const ids: Record<string, string> = {};
  for (const l of ['tia', 'max', 'noa']) {
    const user = await api(page, 'create_user', {
      login: l, email: `${l}@example.org`, display_name: `Learner ${l}`, role: 'learner',
      password: 'learner-password-4', password_confirm: 'learner-password-4',
    });
    ids[l] = String(user.id);
  }
  await api(page, 'change_group_manager', { id: String(saved.group.id), user: ids.tia, op: 'add' });
  await logOut(page);

  await logIn(page, 'tia', 'learner-password-4');
  await expect(page.getByRole('banner')).toContainText('Group manager');
  await nav(page, 'Groups').click();
  await page.getByRole('link', { name: 'Physics 2028' }).click();
  await expect(page.getByRole('heading', { name: 'Physics 2028', level: 1 })).toBeVisible();
  // The key, its state and uses; no buttons to change it, nor to edit the group.
  await expect(page.locator('#group-key-text')).toHaveText('PHYS-2028');
  await expect(page.locator('.group-head').getByText('Active', { exact: true })).toBeVisible();
  await expect(page.locator('.group-head')).toContainText('0 / 30 uses');
  await expect(page.getByRole('button', { name: 'Disable key' })).toHaveCount(0);
  await expect(page.getByText('Regenerate key…')).toHaveCount(0);
  await expect(page.getByRole('link', { name: 'Edit group' })).toHaveCount(0);
  const copy = page.getByRole('button', { name: 'Copy the group key' });
  if (jsOn()) {
    await expectHydratedIfJs(page, true);
    await copy.click();
    await expect(page.locator('.copy-said')).toHaveText(/Copied|Selected/);
  } else {
    await expect(copy).toBeHidden();
  }
  await expectAccessible(page);

  // Adding by exact login; a partial name is "No such user", like a name nobody has.
  await expect(page.getByLabel('Find users to add')).toHaveCount(0);
  await expect(page.getByLabel('Or upload a CSV or text file')).toHaveCount(0);
  await page.getByLabel('Login names or e-mail addresses').fill('max\nno\nnoa@example.org\nnobody-here');
  await page.getByRole('button', { name: 'Add listed users' }).click();
  await expect(page.getByText('Last bulk add: 2 added, 0 already members, 2 no such user, 0 invalid.')).toBeVisible();
  const report = page.getByRole('table', { name: 'Result per row' });
  await expect(report.getByRole('row', { name: /max Added/ })).toBeVisible();
  await expect(report.getByRole('row', { name: /^2 no No such user$/ })).toBeVisible();
  await expect(report.getByRole('row', { name: /nobody-here No such user/ })).toBeVisible();
  const members = page.getByRole('table', { name: 'Members' });
  await expect(members.getByRole('cell', { name: 'max', exact: true })).toBeVisible();
  await expect(members.getByRole('cell', { name: 'noa', exact: true })).toBeVisible();
  await expectAccessible(page);

  // Removing a member.
  await members.getByRole('row', { name: /noa/ }).getByText('Remove…').click();
  await page.getByRole('button', { name: 'Remove from group: noa' }).click();
  await expect(members.getByRole('cell', { name: 'noa', exact: true })).toHaveCount(0);
  await expect(members.getByRole('cell', { name: 'max', exact: true })).toBeVisible();

  // The admin lets the group's managers regenerate its key; the manager then can (only that).
  await logOut(page);
  await logIn(page, 'admin', ADMIN_PASSWORD);
  await page.goto(`/groups/${saved.group.id}/edit`);
  await page.getByLabel('Group managers may regenerate the key').check();
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByText('Changes saved.')).toBeVisible();
  await logOut(page);
  await logIn(page, 'tia', 'learner-password-4');
  await page.goto(`/groups/${saved.group.id}`);
  await expect(page.getByRole('button', { name: 'Disable key' })).toHaveCount(0);
  await page.getByText('Regenerate key…').click();
  await page.getByRole('button', { name: 'Regenerate key', exact: true }).click();
  await expect(page.getByText(/New key made: /)).toBeVisible();
  await expect(page.locator('#group-key-text')).not.toHaveText('PHYS-2028');
  await expectAccessible(page);
  expect(panics).toEqual([]);
});
