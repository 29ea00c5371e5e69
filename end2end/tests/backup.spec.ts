import { test, expect, asNewAdmin } from './fixtures';
import { api, expectAccessible, expectHydratedIfJs, jsOn, nav, watchPanics } from './helpers';
import * as fs from 'fs';

// Backup: runs in every project ('js', 'nojs' with JavaScript off: the download is a plain
// link; 'phone' at 390 px), each test on a fresh server (fixtures.ts).

test('backup: an administrator downloads a backup and the page says when and who', async ({ page }) => {
  const panics = watchPanics(page);
  await asNewAdmin(page);
  await api(page, 'create_group', {
    name: 'Backed up', description: '', branch: '', key: '', max_uses: '', valid_from: '', valid_until: '',
  });
  await nav(page, 'Backup').click();
  await expect(page.getByRole('heading', { name: 'Backup', level: 1 })).toBeVisible();
  await expectHydratedIfJs(page, jsOn());
  const last = page.getByTestId('last-backup');
  await expect(last).toHaveText('No backup has been made yet.');
  await expect(page.getByRole('region', { name: 'Restoring a backup' })).toContainText('tessera restore --in FILE');
  await expectAccessible(page);

  const downloading = page.waitForEvent('download');
  await page.getByRole('link', { name: 'Download a backup' }).click();
  const download = await downloading;
  expect(download.suggestedFilename()).toMatch(/^tessera-\d{4}-\d{2}-\d{2}-\d{4}\.tessera-backup$/);
  const bytes = fs.readFileSync((await download.path())!);
  expect(bytes.subarray(0, 17).toString()).toBe('tessera-backup 1\n');
  expect(bytes.length).toBeGreaterThan(100);

  // The page is rendered on the server: a reload shows the new backup.
  await page.reload();
  await expect(last).toContainText('downloaded by Ada Admin', { timeout: 10_000 });
  await expect(last).toContainText(/Last backup: \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC/);
  expect(panics).toEqual([]);
});
