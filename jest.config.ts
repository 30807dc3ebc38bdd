import type { Config } from 'jest';
import { pathsToModuleNameMapper } from 'ts-jest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

// Aliases are declared once, in tsconfig.json, and read from there.
const tsconfig = ts.readConfigFile('./tsconfig.json', (path) => ts.sys.readFile(path)).config as {
  compilerOptions: { paths: Record<string, string[]>; customConditions?: string[] };
};
const paths = tsconfig.compilerOptions.paths;
// Workspace packages (packages/*) are resolved as packages, through their `exports`, under the
// same conditions as the type check: their sources, not their dist.
const conditions = tsconfig.compilerOptions.customConditions ?? [];

// Nest 12 and some of its dependencies ship only ES modules. Jest on Node 20 cannot require them, so
// SWC turns every ES-module package (found by its package.json) into CommonJS for the test runtime.
function esmPackages(dir = 'node_modules'): string[] {
  return readdirSync(dir).flatMap((name) => {
    if (name.startsWith('.')) return [];
    if (name.startsWith('@')) return esmPackages(join(dir, name)).map((sub) => `${name}/${sub}`);
    try {
      const pkg = JSON.parse(readFileSync(join(dir, name, 'package.json'), 'utf8')) as {
        type?: string;
      };
      return pkg.type === 'module' ? [name] : [];
    } catch {
      return [];
    }
  });
}
const esm = esmPackages()
  .map((name) => name.replace(/[.]/g, '\\.'))
  .join('|');

const config: Config = {
  moduleFileExtensions: ['js', 'json', 'ts'],
  rootDir: '.',
  testRegex: '(apps|libs|packages|test|examples)/.*\\.(spec|e2e-spec)\\.ts$',
  transform: { '^.+\\.(t|j|mj)s$': '@swc/jest' },
  transformIgnorePatterns: [`/node_modules/(?!(${esm})/)`],
  moduleNameMapper: pathsToModuleNameMapper(paths, { prefix: '<rootDir>/' }),
  testEnvironment: 'node',
  testEnvironmentOptions: { customExportConditions: ['node', 'node-addons', ...conditions] },
  reporters: ['default', '<rootDir>/test/summary-reporter.js'],
  testTimeout: 30_000,
};

export default config;
