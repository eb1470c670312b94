// Writes crds/*.yaml from the zod schemas (src/api/crds.ts), and the same files into the Helm
// chart's crds/ (helm packages symlinks poorly, so the chart holds a copy). Tests fail when
// either differs.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderCrdFiles } from '../src/api/render-crds.ts';

const root = join(import.meta.dirname, '..');
for (const [file, text] of Object.entries(renderCrdFiles())) {
  for (const dir of ['crds', join('charts', 'sluice', 'crds')]) {
    writeFileSync(join(root, dir, file), text);
    console.log(`wrote ${dir}/${file}`);
  }
}
