import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  isShared,
  type ModuleResolution,
  packageOf,
  PluginResolution,
  pluginScopes,
} from './plugin-resolution';

let root: string;
/** A gateway and a plugins directory, side by side, as in the Docker image. */
let gateway: string;
let plugins: string;
let plugin: string;

function packageAt(dir: string): string {
  mkdirSync(join(dir, 'dist'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{}');
  return join(dir, 'dist/index.js');
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'protes-plugin-resolution-'));
  gateway = join(root, 'app/dist/libs/distribution/src/middleware/custom-modules.js');
  plugins = join(root, 'plugins');
  plugin = packageAt(join(plugins, 'node_modules/@team/plugin'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('which requests are shared', () => {
  it('names the package of a bare request, and none of a path or a builtin', () => {
    expect(packageOf('@nestjs/common')).toBe('@nestjs/common');
    expect(packageOf('@nestjs/common/decorators')).toBe('@nestjs/common');
    expect(packageOf('rxjs/operators')).toBe('rxjs');
    expect(packageOf('./local')).toBeUndefined();
    expect(packageOf('/abs/file.js')).toBeUndefined();
    expect(packageOf('node:fs')).toBeUndefined();
  });

  it('shares Nest (the whole scope), reflect-metadata, rxjs and the SDK, and nothing else', () => {
    for (const name of [
      '@nestjs/common',
      '@nestjs/core',
      '@nestjs/axios',
      'reflect-metadata',
      'rxjs',
      '@protes/middleware-sdk',
    ]) {
      expect(isShared(name)).toBe(true);
    }
    for (const name of ['lodash', '@protes/other', 'nestjs', '@nestjsx/crud', 'rxjs-extra']) {
      expect(isShared(name)).toBe(false);
    }
  });
});

describe('the folders of a plugin', () => {
  it('are its package and the folder its node_modules belongs to', () => {
    expect(pluginScopes(plugin, gateway)).toEqual([
      join(plugins, 'node_modules/@team/plugin'),
      plugins,
    ]);
  });

  it('leave out a folder that holds the gateway (a plugin installed among its packages)', () => {
    const inGateway = packageAt(join(root, 'app/node_modules/plugin'));
    expect(pluginScopes(inGateway, gateway)).toEqual([join(root, 'app/node_modules/plugin')]);
  });

  it('are none when the plugin is the folder of the gateway itself', () => {
    expect(pluginScopes(packageAt(join(root, 'app')), gateway)).toEqual([]);
  });

  it('are the package alone when it is not installed in a node_modules folder', () => {
    const folder = packageAt(join(root, 'src/my-plugin'));
    expect(pluginScopes(folder, gateway)).toEqual([join(root, 'src/my-plugin')]);
  });
});

describe('PluginResolution', () => {
  const GATEWAY_HAS = new Set(['@nestjs/common', '@nestjs/core', 'reflect-metadata', 'rxjs']);

  /** Node's resolution, as a fake: every request resolves where its parent would find it. */
  function setUp(): {
    modules: ModuleResolution;
    resolve: (request: string, from: string) => string;
  } {
    const resolution = new PluginResolution(gateway, (request) => {
      const name = packageOf(request) ?? request;
      if (!GATEWAY_HAS.has(name)) throw new Error(`Cannot find module '${request}'`);
      return `gateway:${request}`;
    });
    resolution.addPlugin(plugin);
    const modules: ModuleResolution = {
      _resolveFilename: (request, parent) => `own(${parent?.filename ?? '?'}):${request}`,
    };
    resolution.install(modules);
    resolution.install(modules); // once only: the hook does not wrap itself
    return {
      modules,
      resolve: (request, from) => modules._resolveFilename(request, { filename: from }),
    };
  }

  it("gives a plugin's modules the gateway's copy of each shared package", () => {
    const { resolve } = setUp();
    expect(resolve('@nestjs/common', plugin)).toBe('gateway:@nestjs/common');
    expect(resolve('@nestjs/core/injector', plugin)).toBe('gateway:@nestjs/core/injector');
    expect(resolve('reflect-metadata', plugin)).toBe('gateway:reflect-metadata');
  });

  it('does so for the dependencies installed beside the plugin too (their own Nest imports)', () => {
    const { resolve } = setUp();
    const dependency = join(plugins, 'node_modules/@nestjs/axios/dist/index.js');
    expect(resolve('@nestjs/common', dependency)).toBe('gateway:@nestjs/common');
  });

  it('leaves every other request to Node: other packages, relative paths, the gateway itself', () => {
    const { resolve } = setUp();
    expect(resolve('lodash', plugin)).toBe(`own(${plugin}):lodash`);
    expect(resolve('./helper', plugin)).toBe(`own(${plugin}):./helper`);
    expect(resolve('@nestjs/common', gateway)).toBe(`own(${gateway}):@nestjs/common`);
    const elsewhere = join(root, 'other/node_modules/x/index.js');
    expect(resolve('@nestjs/common', elsewhere)).toBe(`own(${elsewhere}):@nestjs/common`);
  });

  it('lets a plugin use its own copy of a shared package the gateway does not have', () => {
    const { resolve } = setUp();
    expect(resolve('@nestjs/schedule', plugin)).toBe(`own(${plugin}):@nestjs/schedule`);
  });
});
