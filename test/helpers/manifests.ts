// Manifests for the tests of src/core/gitops: a Rollout and a Service as a team writes them,
// parsed from text (with positions), and a small API discovery for placeManifests.
import assert from 'node:assert/strict';
import { parseManifestFile, type Manifest } from '../../src/core/gitops/manifests.ts';
import type { KindInfo, NamespaceScope } from '../../src/core/gitops/placement.ts';

export const ROLLOUT = `apiVersion: sluice.dev/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  replicas: 4
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: web:1
  strategy:
    canary:
      steps:
        - setWeight: 25
        - pause: {duration: 30s}
`;

export const SERVICE = `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports: [{port: 80}]
`;

/** The one manifest in `content` (the test fails on any problem). */
export const manifest = (content: string, file = 'apps/web.yaml'): Manifest => {
  const { manifests, problems } = parseManifestFile({ path: file, content });
  assert.deepEqual(problems, []);
  assert.equal(manifests.length, 1);
  return manifests[0] as Manifest;
};

const KINDS: Record<string, KindInfo> = {
  'v1 Service': { apiVersion: 'v1', kind: 'Service', plural: 'services', namespaced: true },
  'v1 ConfigMap': { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true },
  'v1 Namespace': { apiVersion: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false },
  'sluice.dev/v1alpha1 Rollout': { apiVersion: 'sluice.dev/v1alpha1', kind: 'Rollout', plural: 'rollouts', namespaced: true },
};
export const kindOf = (apiVersion: string, kind: string) => KINDS[`${apiVersion} ${kind}`];
export const SCOPE: NamespaceScope = { defaultNamespace: 'team', allowed: ['team'], clusterScoped: false };
