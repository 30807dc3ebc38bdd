/**
 * The module boundaries of the monorepo (see DESIGN.md, "Shape"), checked by `npm run lint`.
 * Test files may reach further than production code (a spec of the tracker starts a real SQLite
 * store), so the layering rules apply to production sources only; cycles are refused everywhere.
 */
const PRODUCTION = { pathNot: '\\.(spec|e2e-spec)\\.ts$|/testing/' };

module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'An import cycle ties modules together that should be layered.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'libs-never-import-apps',
      comment: 'Libraries are shared by the apps; an app is a leaf.',
      severity: 'error',
      from: { path: '^libs/' },
      to: { path: '^apps/' },
    },
    {
      name: 'no-app-imports-another',
      comment: 'Each app is deployed alone; what two apps share belongs in a library.',
      severity: 'error',
      from: { path: '^apps/([^/]+)/' },
      to: { path: '^apps/', pathNot: '^apps/$1/' },
    },
    {
      name: 'packages-stand-alone',
      comment:
        'Workspace packages (the middleware SDK) are published and installed outside the repo: ' +
        'they cannot reach into libs or apps.',
      severity: 'error',
      from: { path: '^packages/' },
      to: { path: '^(libs|apps|examples)/' },
    },
    {
      name: 'core-depends-on-nothing-of-ours',
      comment: 'The contracts library is what everything else builds on; it knows only TES models.',
      severity: 'error',
      from: { path: '^libs/core/', ...PRODUCTION },
      to: { path: '^(libs|apps)/', pathNot: '^libs/(core|tes)/' },
    },
    {
      name: 'no-store-implementation-outside-persistence',
      comment:
        'Libraries use the store through the ports in @protes/core; which adapter runs is the ' +
        "persistence module's business (and the apps', which choose it).",
      severity: 'error',
      from: { path: '^libs/(distribution|tracking|tes|config|auth|server)/', ...PRODUCTION },
      to: { path: '^libs/persistence/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist)/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
  },
};
