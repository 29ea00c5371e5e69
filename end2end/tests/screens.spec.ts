import { test, expect, asNewAdmin } from './fixtures';
import { expectAccessible, logIn, watchPanics } from './helpers';
import { LEARNER, seedSchool } from './school';
import * as path from 'path';

// Screenshots of the main pages at 1280 and 390 px, light and dark, written to
// end2end/screenshots/ (not committed) for people to look at. Each is also checked: no sideways
// scrolling and axe clean. Runs once, in the 'js' project (it sets the widths itself).

const OUT = path.join(__dirname, '..', 'screenshots');
const SIZES = [[1280, 900], [390, 844]] as const;
const SCHEMES = ['light', 'dark'] as const;

test('screens: the main pages at desktop and phone width, light and dark', async ({ page, browser, baseURL }) => {
  test.skip(test.info().project.name !== 'js', 'one run is enough: it sets widths and themes itself');
  test.setTimeout(300_000);
  const panics = watchPanics(page);
  // `menu`: with the navigation's menu open ("More", or "Menu" on a phone), the top of the page.
  const shoot = async (p: typeof page, name: string, url: string, menu = false) => {
    for (const [w, h] of SIZES) {
      for (const scheme of SCHEMES) {
        await p.setViewportSize({ width: w, height: h });
        await p.emulateMedia({ colorScheme: scheme });
        await p.goto(url);
        await expect(p.getByRole('main')).toBeVisible();
        await expect(p.locator('body')).toHaveAttribute('data-hydrated', 'true');
        if (menu) {
          await p.getByRole('navigation', { name: 'Main' }).locator('details.menu > summary').click();
          await expect(p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' })).toBeVisible();
        }
        await p.screenshot({ path: path.join(OUT, `${name}-${w}-${scheme}.png`), fullPage: !menu });
        await expectAccessible(p);
      }
    }
  };
  // Before signing in.
  const visitor = await browser.newContext({ baseURL });
  const v = await visitor.newPage();
  await asNewAdmin(page);
  const s = await seedSchool(page);
  await shoot(v, 'login', '/login');
  await visitor.close();

  await shoot(page, 'admin-home', '/');
  await shoot(page, 'admin-menu-open', '/groups', true);
  await shoot(page, 'groups', '/groups');
  for (const tab of ['users', 'courses', 'managers', 'messages', 'activity', 'report']) {
    await shoot(page, `group-${tab}`, `/groups/${s.group}?tab=${tab}`);
  }
  await shoot(page, 'group-edit', `/groups/${s.group}/edit`);
  await shoot(page, 'course', `/courses/${s.course}`);

  const learner = await browser.newContext({ baseURL });
  const l = await learner.newPage();
  await l.goto('/login');
  await logIn(l, LEARNER.login, LEARNER.password);
  await expect(l.getByRole('heading', { name: 'My courses' })).toBeVisible();
  await shoot(l, 'learner-home', '/');
  await shoot(l, 'learner-course', `/learn/${s.course}`);
  await shoot(l, 'join', '/join');
  await learner.close();
  expect(panics).toEqual([]);
});
