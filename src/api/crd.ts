// Builds CustomResourceDefinitions from the zod schemas, so the two cannot drift apart.
// zod emits JSON Schema; Kubernetes wants a "structural" OpenAPI v3 subset, so the
// output is normalised here (no properties beside additionalProperties, int-or-string
// and preserve-unknown-fields markers, no JSON-Schema-only keywords).
import { z } from 'zod';
import { GROUP, VERSION } from './meta.ts';

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  priority?: number;
}

export interface CrdDefinition {
  kind: string;
  plural: string;
  singular: string;
  shortNames?: string[];
  categories?: string[];
  scope: 'Namespaced' | 'Cluster';
  spec: z.ZodType;
  status?: z.ZodType;
  printerColumns: PrinterColumn[];
  scale?: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath: string };
}

type Json = Record<string, unknown>;

const SAFE_INT = 9007199254740991;

/** Turns zod's JSON Schema output into a Kubernetes structural schema node. */
export function toStructural(node: unknown): Json {
  if (typeof node !== 'object' || node === null) return {};
  const source = node as Json;
  const out: Json = {};
  if (source['x-kubernetes-int-or-string']) {
    out['x-kubernetes-int-or-string'] = true;
    copyDocs(source, out);
    // JSON Schema applies string keywords to strings only and number keywords to numbers
    // only, so the union's checks can sit on the node itself. A node with its own CEL rule
    // (for a message people can read) leaves the pattern to that rule.
    const rules = source['x-kubernetes-validations'];
    if (rules) out['x-kubernetes-validations'] = rules;
    for (const variant of (source.anyOf ?? []) as Json[]) {
      for (const key of variant.type === 'string' ? (rules ? ['maxLength'] : ['pattern', 'maxLength']) : ['minimum', 'maximum']) {
        const value = variant[key];
        if (value !== undefined && !(typeof value === 'number' && Math.abs(value) === SAFE_INT)) out[key] = value;
      }
    }
    return out;
  }
  if (source['x-kubernetes-preserve-unknown-fields']) {
    out.type = 'object';
    out['x-kubernetes-preserve-unknown-fields'] = true;
    copyDocs(source, out);
    return out;
  }
  const variants = (source.anyOf ?? source.oneOf) as unknown[] | undefined;
  if (variants && !source.type) {
    // A union of literals of one type (e.g. z.enum pieces) collapses into an enum.
    const parts = variants.map(toStructural);
    const types = new Set(parts.map((p) => p.type));
    if (types.size === 1 && parts.every((p) => Array.isArray(p.enum))) {
      out.type = parts[0]?.type;
      out.enum = parts.flatMap((p) => p.enum as unknown[]);
      copyDocs(source, out);
      return out;
    }
    throw new Error(`cannot express a union of ${[...types].join(', ')} in a structural schema`);
  }
  for (const key of ['type', 'enum', 'pattern', 'format', 'minLength', 'maxLength', 'minItems', 'maxItems', 'x-kubernetes-validations']) {
    if (source[key] !== undefined) out[key] = source[key];
  }
  if (source.const !== undefined) {
    out.enum = [source.const];
    out.type ??= typeof source.const === 'number' ? 'number' : typeof source.const;
  }
  for (const key of ['minimum', 'maximum']) {
    const value = source[key];
    if (typeof value === 'number' && Math.abs(value) !== SAFE_INT) out[key] = value;
  }
  if (source.exclusiveMinimum !== undefined) {
    out.minimum = source.exclusiveMinimum;
    out.exclusiveMinimum = true;
  }
  copyDocs(source, out);
  if (source.type === 'object') {
    const properties = source.properties as Record<string, unknown> | undefined;
    if (properties && Object.keys(properties).length > 0) {
      out.properties = Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, toStructural(v)]));
      const required = source.required as string[] | undefined;
      if (required?.length) out.required = required;
    } else if (source.additionalProperties && typeof source.additionalProperties === 'object' && Object.keys(source.additionalProperties).length > 0) {
      out.additionalProperties = toStructural(source.additionalProperties);
    } else if (source.additionalProperties !== false) {
      out['x-kubernetes-preserve-unknown-fields'] = true;
    }
  }
  if (source.type === 'array' && source.items) out.items = toStructural(source.items);
  return out;
}

function copyDocs(source: Json, out: Json): void {
  if (typeof source.description === 'string') out.description = source.description;
}

export function schemaOf(type: z.ZodType): Json {
  return toStructural(z.toJSONSchema(type, { target: 'openapi-3.0', io: 'input', unrepresentable: 'any' }));
}

export function buildCrd(def: CrdDefinition): Json {
  const properties: Json = {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: { type: 'object' },
    spec: schemaOf(def.spec),
  };
  if (def.status) properties.status = schemaOf(def.status);
  const subresources: Json = {};
  if (def.status) subresources.status = {};
  if (def.scale) subresources.scale = def.scale;
  const version: Json = {
    name: VERSION,
    served: true,
    storage: true,
    schema: { openAPIV3Schema: { type: 'object', required: ['spec'], properties } },
    additionalPrinterColumns: [...def.printerColumns, { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' }],
  };
  if (Object.keys(subresources).length > 0) version.subresources = subresources;
  const names: Json = { kind: def.kind, listKind: `${def.kind}List`, plural: def.plural, singular: def.singular };
  if (def.shortNames) names.shortNames = def.shortNames;
  names.categories = def.categories ?? ['sluice'];
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${def.plural}.${GROUP}` },
    spec: { group: GROUP, names, scope: def.scope, versions: [version] },
  };
}
