import { test, expect, asNewAdmin } from './fixtures';
import { expectAccessible, jsOn, logIn, logOut, nav, watchPanics } from './helpers';
import { LEARNER, seedSchool } from './school';

// Layout at every width the projects give ('js' at 1280 px, 'phone' at 390 px): no page is
// wider than its viewport (tables stack or scroll inside their own box), the top bar stays one
// row, tables keep their row actions in reach, the chart's labels stay readable, and axe finds
// nothing, on the main pages and every tab of the group page. axe and the measures need
// JavaScript, so 'nojs' only checks that the pages load.

test('layout: the main pages and every group tab fit the viewport and pass axe', async ({ page }) => {
  test.setTimeout(240_000);
  const panics = watchPanics(page);
  await asNewAdmin(page);
  const s = await seedSchool(page);
  const phone = (page.viewportSize()?.width ?? 1280) < 700;
  const tabs = ['users', 'courses', 'managers', 'messages', 'activity', 'report'];
  const paths = [
    '/', '/groups', '/groups/new', `/groups/${s.group}/edit`, '/users', '/courses', `/courses/${s.course}`,
    '/curricula', '/branches', '/reports', '/activity', '/inbox', '/settings', '/backup', '/imports',
    ...tabs.map((t) => `/groups/${s.group}?tab=${t}`),
  ];
  for (const path of paths) {
    await page.goto(path);
    await expect(page.getByRole('main')).toBeVisible();
    if (!jsOn()) continue;
    const [scroll, inner] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    expect(scroll, `${path} is no wider than the viewport`).toBeLessThanOrEqual(inner);
    // The top bar is one row: at most 4rem high at any width.
    const bar = await page.locator('header.topbar').boundingBox();
    expect(bar!.height, `top bar height on ${path}`).toBeLessThanOrEqual(64);
    await expectAccessible(page);
  }
  if (jsOn()) {
    // The groups table: every column, the actions included, on screen without scrolling it.
    await page.goto('/groups');
    const row = page.getByRole('table', { name: 'Groups' }).getByRole('row', { name: /Year 9 Science/ });
    for (const what of [row.getByText('SCIENCE', { exact: false }).or(row.getByText('Active')), row.getByRole('link', { name: /^Edit / })]) {
      const box = await what.first().boundingBox();
      expect(box, 'visible').not.toBeNull();
      expect(box!.x + box!.width).toBeLessThanOrEqual(page.viewportSize()!.width);
    }
    // The report chart: labels drawn at 11 px or more on screen.
    await page.goto(`/groups/${s.group}?tab=report`);
    // (Of the drawing shown: the other one, for the other width, is not displayed.)
    const smallest = await page.evaluate(() => {
      const sizes = Array.from(document.querySelectorAll('.chart-box svg text'))
        .map((t) => (t as SVGTextElement).getBoundingClientRect().height)
        .filter((h) => h > 0);
      return sizes.length ? Math.min(...sizes) : 0;
    });
    expect(smallest, 'chart labels readable').toBeGreaterThanOrEqual(11);
    // The group page's main actions sit in its header: the key with its copy button, the
    // default-group status, and enrolling every member.
    await page.goto(`/groups/${s.group}`);
    const head = page.locator('.group-head');
    await expect(head.getByText(s.key)).toBeVisible();
    await expect(head.getByRole('button', { name: 'Copy the group key' })).toBeVisible();
    await expect(head.getByText(/default group/i).first()).toBeVisible();
    await expect(head.getByRole('link', { name: /Enrol all members/ })).toBeVisible();
    // The admin home has a Groups card: how many, a link to them, and "Add group".
    await page.goto('/');
    const card = page.getByRole('region', { name: 'Groups' });
    await expect(card).toContainText('2 groups');
    await expect(card.getByRole('link', { name: 'Add group' })).toHaveAttribute('href', '/groups/new');
    await expect(card.getByRole('link', { name: 'Year 9 Science (autumn term)' })).toBeVisible();
    // The menu opens from the keyboard, and Tab goes on into it.
    await page.goto('/inbox');
    const summary = page.getByRole('navigation', { name: 'Main' }).locator('details.menu > summary');
    await summary.focus();
    await page.keyboard.press('Enter');
    await expect(nav(page, 'Settings').link).toBeVisible();
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => !!document.activeElement?.closest('.menu-list'))).toBe(true);
    await page.keyboard.press('Enter');
    await expect(page.getByRole('heading', { level: 1 }).first()).toBeVisible();
    expect(new URL(page.url()).pathname).not.toBe('/inbox');
    // Every item of the navigation is reachable.
    for (const name of ['Groups', 'Users', 'Courses', 'Curricula', 'Branches', 'Reports', 'Activity', 'Settings', 'Backup']) {
      await page.goto('/inbox');
      await nav(page, name).click();
      await expect(page.getByRole('heading', { level: 1 }).first()).toBeVisible();
      expect(new URL(page.url()).pathname).toBe(`/${name.toLowerCase()}`);
    }
  }
  // The learner's pages.
  await logOut(page);
  await logIn(page, LEARNER.login, LEARNER.password);
  await expect(page.getByRole('heading', { name: 'My courses' })).toBeVisible();
  for (const path of ['/', '/join', '/inbox', `/learn/${s.course}`]) {
    await page.goto(path);
    await expect(page.getByRole('main')).toBeVisible();
    if (!jsOn()) continue;
    const [scroll, inner] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    expect(scroll, `${path} is no wider than the viewport`).toBeLessThanOrEqual(inner);
    const bar = await page.locator('header.topbar').boundingBox();
    expect(bar!.height, `top bar height on ${path}`).toBeLessThanOrEqual(64);
    await expectAccessible(page);
  }
  expect(panics).toEqual([]);
});
