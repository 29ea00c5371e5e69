import { test, expect, asNewAdmin } from './fixtures';
import { api, expectAccessible, jsOn, watchPanics } from './helpers';

// The dark theme (prefers-color-scheme: dark), reduced motion and forced colours: the main
// pages pass the same axe check (colour contrast included) as in the light theme. axe needs
// JavaScript, so with it off ('nojs') this only checks that the pages load.

test.use({ colorScheme: 'dark' });

test('themes: the main pages are accessible in the dark theme', async ({ page }) => {
  const panics = watchPanics(page);
  await asNewAdmin(page);
  // The browser asked for dark, and the stylesheet answered.
  const background = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
  expect(background).toBe('rgb(15, 20, 27)');
  const course = await api(page, 'create_course', { code: 'DK-1', title: 'Dark basics', description: '' });
  const saved = await api(page, 'create_group', {
    name: 'Night class', description: '', branch: '', key: '', max_uses: '', valid_from: '', valid_until: '',
  });
  const g = String(saved.group.id);
  await api(page, 'change_group_link', { id: g, kind: 'course', target: String(course.id), op: 'add' });

  for (const path of ['/', '/users', '/groups', `/groups/${g}`, `/groups/${g}?tab=courses`, `/groups/${g}?tab=report`, '/courses', '/imports', '/reports', '/inbox']) {
    await page.goto(path);
    await expect(page.getByRole('main')).toBeVisible();
    await expectAccessible(page);
  }
  expect(panics).toEqual([]);
});

test('themes: reduced motion and forced colours keep the pages usable', async ({ page }) => {
  await page.emulateMedia({ reducedMotion: 'reduce', forcedColors: 'active' });
  await asNewAdmin(page);
  await page.goto('/groups');
  await expect(page.getByRole('main')).toBeVisible();
  if (jsOn()) {
    // Nothing moves: no transition or animation on any element.
    const moving = await page.evaluate(() =>
      Array.from(document.querySelectorAll('*')).filter((el) => {
        const s = getComputedStyle(el);
        return (s.transitionDuration.split(',').some((d) => parseFloat(d) > 0))
          || (s.animationName !== 'none');
      }).length,
    );
    expect(moving).toBe(0);
    // A focused control still shows its ring.
    await page.keyboard.press('Tab');
    const outline = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      return el ? getComputedStyle(el).outlineStyle : 'none';
    });
    expect(outline).not.toBe('none');
  }
  await expectAccessible(page);
});
