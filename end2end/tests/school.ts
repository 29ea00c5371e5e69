import { Page } from './fixtures';
import { api } from './helpers';

// A small school for the layout and screenshot specs: courses with long titles, a group with
// members, a manager, courses, a message and some progress, so every tab of the group page has
// rows to lay out. Made through the API as the administrator (the page must be signed in).

export const LEARNER = { login: 'lea', password: 'learner-password-7' };

export type School = { group: string; course: string; key: string };

export async function seedSchool(page: Page): Promise<School> {
  const courses: string[] = [];
  for (const [code, title] of [
    ['PHY-101', 'Physics: forces, motion and energy'],
    ['CHEM-220', 'Chemistry of everyday materials'],
    ['BIO-3', 'Cells'],
  ]) {
    const c = await api(page, 'create_course', { code, title, description: `An introduction to ${title.toLowerCase()}.` });
    courses.push(String(c.id));
    for (const lesson of ['Getting started', 'The main ideas', 'Putting it together']) {
      await api(page, 'change_lesson', { course: String(c.id), op: 'add', title: lesson, text: 'Read this, then mark it done.' });
    }
  }
  const saved = await api(page, 'create_group', {
    name: 'Year 9 Science (autumn term)', description: 'Every Year 9 learner taking the science track this autumn.',
    branch: '', key: 'SCIENCE-Y9-AUTUMN', max_uses: '40', valid_from: '', valid_until: '', key_enabled: 'on',
  });
  const group = String(saved.group.id);
  await api(page, 'create_group', {
    name: 'Staff', description: '', branch: '', key: '', max_uses: '', valid_from: '', valid_until: '',
  });
  for (const c of courses) await api(page, 'change_group_link', { id: group, kind: 'course', target: c, op: 'add' });
  const users = [
    [LEARNER.login, 'Lea Learner-Longname'],
    ['maximilian.vandenberghe', 'Maximilian Vandenberghe-Oosterhuis'],
    ['sam', 'Sam Lee'],
  ];
  const ids: string[] = [];
  for (const [login, name] of users) {
    const u = await api(page, 'create_user', {
      login, email: `${login}@example.org`, display_name: name, role: 'learner',
      password: LEARNER.password, password_confirm: LEARNER.password,
    });
    ids.push(String(u.id));
    await api(page, 'add_group_member', { id: group, user: String(u.id) });
    for (const c of courses) await api(page, 'enrol_user', { course: c, user: String(u.id) });
  }
  await api(page, 'change_group_manager', { id: group, user: ids[1], op: 'add' });
  await api(page, 'send_group_message', { id: group, subject: 'Welcome to Year 9 Science', body: 'Start with the first lesson of Physics.' });
  return { group, course: courses[0], key: 'SCIENCE-Y9-AUTUMN' };
}
