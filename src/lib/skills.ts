// Skills fallback, for when an agent run headless (`-p`) does not load the project's skills by itself.
// With `inline_skills = true` or a list of names, the job's prompt gets the project's
// .claude/skills/<name>/SKILL.md texts prepended, for agents or modes that do not load skills themselves.
import { promises as fs } from 'node:fs';
import path from 'node:path';

export const SKILLS_DIR = path.join('.claude', 'skills');

export class MissingSkillError extends Error {}

/** The skills to inline for a project: every skill folder (true), the named ones, or none (false). */
export async function readSkills(
  projectPath: string,
  which: boolean | string[],
): Promise<Array<{ name: string; text: string }>> {
  if (which === false || (Array.isArray(which) && which.length === 0)) return [];
  const dir = path.join(projectPath, SKILLS_DIR);
  let names: string[];
  if (which === true) {
    try {
      names = (await fs.readdir(dir, { withFileTypes: true }))
        .filter((d) => d.isDirectory())
        .map((d) => d.name)
        .sort();
    } catch {
      return [];
    }
  } else {
    names = which;
  }
  const skills: Array<{ name: string; text: string }> = [];
  for (const name of names) {
    const file = path.join(dir, name, 'SKILL.md');
    let bytes: Buffer;
    try {
      bytes = await fs.readFile(file);
    } catch {
      if (which === true) continue; // a folder without SKILL.md is not a skill
      throw new MissingSkillError(`skill "${name}" not found: ${file} does not exist`);
    }
    skills.push({ name, text: utf8Text(bytes, name, file).trim() });
  }
  return skills;
}

/** The file's text; bytes that are not UTF-8 would reach the agent silently replaced, so they are an error. */
function utf8Text(bytes: Buffer, name: string, file: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new MissingSkillError(`skill "${name}": ${file} is not valid UTF-8 text — save it as UTF-8`);
  }
}

export function withSkills(prompt: string, skills: Array<{ name: string; text: string }>): string {
  if (skills.length === 0) return prompt;
  const blocks = skills.map((s) => `<skill name="${s.name}">\n${s.text}\n</skill>`).join('\n\n');
  return `These project skills are included in full because they may not be loaded automatically. Use them where they apply.\n\n${blocks}\n\n---\n\n${prompt}`;
}
