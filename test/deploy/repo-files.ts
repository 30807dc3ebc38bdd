import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { load as parseYaml } from 'js-yaml';

/** The deployment files of the repository, read once and shared by the deployment tests. */

export const ROOT = resolve(__dirname, '../..');
export const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

/** Apps the image can run: folders under apps/ with a main.ts. */
export const APPS = readdirSync(join(ROOT, 'apps')).filter((app) =>
  existsSync(join(ROOT, 'apps', app, 'src/main.ts')),
);

// ---- Dockerfile

export interface Stage {
  image: string;
  name?: string;
  lines: string[];
}

function dockerfileStages(text: string): Stage[] {
  // Continuation lines joined, comments dropped.
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: Stage[] = [];
  for (const line of lines) {
    const from = /^FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(line);
    if (from) stages.push({ image: from[1], name: from[2]?.toLowerCase(), lines: [] });
    else stages.at(-1)?.lines.push(line);
  }
  return stages;
}

export const dockerfile = read('Dockerfile');
export const stages = dockerfileStages(dockerfile);
export const stageNames = stages.map((s) => s.name).filter((n): n is string => !!n);

/** The numeric user id the image's last `USER` names (NaN if it names a user by name). */
export function imageUid(): number {
  const user = (stages.at(-1)?.lines ?? []).filter((l) => /^USER\s/i.test(l)).at(-1) ?? '';
  return Number(/^USER\s+(\d+)(?::\d+)?$/i.exec(user)?.[1]);
}

// ---- .github/workflows/release.yml

interface WorkflowStep {
  uses?: string;
  with?: Record<string, unknown>;
}

export const release = parseYaml(read('.github/workflows/release.yml')) as {
  on: { push: { tags: string[] } };
  env: { IMAGE: string };
  jobs: { image: { steps: WorkflowStep[] } };
};

/** The image name the release workflow pushes to. */
export const RELEASE_IMAGE = release.env.IMAGE;
