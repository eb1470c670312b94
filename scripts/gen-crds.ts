// Writes crds/*.yaml from the zod schemas (src/api/crds.ts). A test fails when they differ.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderCrdFiles } from '../src/api/render-crds.ts';

const dir = join(import.meta.dirname, '..', 'crds');
for (const [file, text] of Object.entries(renderCrdFiles())) {
  writeFileSync(join(dir, file), text);
  console.log(`wrote crds/${file}`);
}
