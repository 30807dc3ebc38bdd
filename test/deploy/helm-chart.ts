import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load as parseYaml, loadAll } from 'js-yaml';
import { Renderer } from './go-template';
import { ROOT } from './repo-files';

/** The chart in helm/, rendered as `helm template` would, for tests. */

export const CHART = join(ROOT, 'helm');
const TEMPLATES = join(CHART, 'templates');

export type Values = Record<string, unknown>;
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

export const chartYaml = parseYaml(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as {
  name: string;
  version: string;
  appVersion: string;
};
export const defaultValues = parseYaml(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Values;

/** The template files by name: `_*.tpl` hold definitions, the others objects. */
export const templateFiles = Object.fromEntries(
  readdirSync(TEMPLATES).map((name) => [name, readFileSync(join(TEMPLATES, name), 'utf8')]),
);

const isMap = (v: unknown): v is Values => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Helm's merge of user values over the chart's: maps key by key, anything else replaced. */
export function mergeValues(base: Values, override: Values): Values {
  const merged: Values = { ...base };
  for (const [key, value] of Object.entries(override)) {
    merged[key] = isMap(value) && isMap(base[key]) ? mergeValues(base[key], value) : value;
  }
  return merged;
}

export interface Rendered {
  objects: K8sObject[];
  notes: string;
}

/** Renders every template of the chart for the values (over the defaults) and a release name. */
export function renderChart(values: Values = {}, releaseName = 'protes'): Rendered {
  const helpers = Object.entries(templateFiles)
    .filter(([name]) => name.startsWith('_'))
    .map(([, source]) => source);
  const renderer = new Renderer(helpers);
  const context = {
    Values: mergeValues(defaultValues, values),
    Release: { Name: releaseName, Namespace: 'tes', Service: 'Helm', IsInstall: true },
    Chart: { Name: chartYaml.name, Version: chartYaml.version, AppVersion: chartYaml.appVersion },
  };
  const objects: K8sObject[] = [];
  for (const [name, source] of Object.entries(templateFiles)) {
    if (!name.endsWith('.yaml')) continue;
    let text: string;
    try {
      text = renderer.render(source, context);
    } catch (error) {
      throw new Error(`${name}: ${(error as Error).message}`);
    }
    for (const document of loadAll(text)) {
      if (document !== null && document !== undefined) objects.push(document as K8sObject);
    }
  }
  return { objects, notes: renderer.render(templateFiles['NOTES.txt'], context) };
}
