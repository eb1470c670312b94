import { dump } from 'js-yaml';
import { buildCrd } from './crd.ts';
import { crdFiles } from './crds.ts';

const HEADER = '# Generated from src/api by `npm run crds`; do not edit by hand.\n';

/** File name -> YAML text of every CRD. */
export function renderCrdFiles(): Record<string, string> {
  return Object.fromEntries(Object.entries(crdFiles).map(([file, def]) => [file, HEADER + dump(buildCrd(def), { lineWidth: 120, noRefs: true })]));
}
