// The skills fallback: `inline_skills = true` inlines every skill of the project, a list the named ones.
// (The end-to-end path, a job whose agent receives the inlined skill, is in test/agentJob.e2e.test.ts.)
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MissingSkillError, SKILLS_DIR, readSkills, withSkills } from '../src/lib/skills';

const project = mkdtempSync(path.join(os.tmpdir(), 'skills-'));
afterAll(() => rmSync(project, { recursive: true, force: true }));

function skill(name: string, text: string | null): void {
  const dir = path.join(project, SKILLS_DIR, name);
  mkdirSync(dir, { recursive: true });
  if (text !== null) writeFileSync(path.join(dir, 'SKILL.md'), text);
}

beforeAll(() => {
  skill('review', '  # Review\nRead the diff twice.\n');
  skill('deploy', '# Deploy\nRun the checks first.');
  skill('notes-only', null); // a folder without SKILL.md is not a skill
  writeFileSync(path.join(project, SKILLS_DIR, 'README.md'), 'not a skill folder');
});

test('true: every skill folder with a SKILL.md, in name order, trimmed', async () => {
  expect(await readSkills(project, true)).toEqual([
    { name: 'deploy', text: '# Deploy\nRun the checks first.' },
    { name: 'review', text: '# Review\nRead the diff twice.' },
  ]);
});

test('true without a skills folder, false, or an empty list: nothing', async () => {
  const bare = mkdtempSync(path.join(os.tmpdir(), 'skills-none-'));
  try {
    expect(await readSkills(bare, true)).toEqual([]);
  } finally {
    rmSync(bare, { recursive: true, force: true });
  }
  expect(await readSkills(project, false)).toEqual([]);
  expect(await readSkills(project, [])).toEqual([]);
});

test('a list: the named skills in its order; a missing one is an error naming the file', async () => {
  expect((await readSkills(project, ['review', 'deploy'])).map((s) => s.name)).toEqual(['review', 'deploy']);
  const missing = readSkills(project, ['review', 'notes-only']);
  await expect(missing).rejects.toThrow(MissingSkillError);
  await expect(missing).rejects.toThrow(
    `skill "notes-only" not found: ${path.join(project, SKILLS_DIR, 'notes-only', 'SKILL.md')} does not exist`,
  );
});

test('withSkills puts each skill in its own block before the prompt; no skills, the prompt as it is', async () => {
  const prompt = 'Pick the next open issue.';
  expect(withSkills(prompt, [])).toBe(prompt);
  const text = withSkills(prompt, await readSkills(project, true));
  expect(text).toMatch(/^These project skills are included in full/);
  expect(text).toContain('<skill name="deploy">\n# Deploy\nRun the checks first.\n</skill>');
  expect(text).toContain('<skill name="review">\n# Review\nRead the diff twice.\n</skill>');
  expect(text.indexOf('name="deploy"')).toBeLessThan(text.indexOf('name="review"'));
  expect(text.endsWith(`\n\n---\n\n${prompt}`)).toBe(true);
});
