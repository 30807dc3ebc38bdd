import { loadSimConfig, resolveSimConfig, SIM_DEFAULTS, SimConfigError } from './sim-config';

describe('loadSimConfig', () => {
  it('gives the defaults with no flags and no environment', () => {
    const { config, help } = loadSimConfig([], {});
    expect(help).toBe(false);
    expect(config).toMatchObject({ ...SIM_DEFAULTS, id: 'org.ga4gh.tes-sim.tes-sim' });
    expect(Number.isInteger(config.seed)).toBe(true);
  });

  it('reads every flag, in both --flag value and --flag=value forms', () => {
    const { config } = loadSimConfig(
      [
        '--name',
        'eu-1',
        '--host',
        '0.0.0.0',
        '--port=8081',
        '--latitude',
        '52.5',
        '--longitude=-13.4',
        '--queued-ms',
        '1',
        '--initializing-ms',
        '2',
        '--running-ms',
        '3',
        '--failure-rate',
        '0.25',
        '--failure-kind',
        'preempted',
        '--latency-ms',
        '4',
        '--refuse-ms',
        '5',
        '--error-ms',
        '6',
        '--list',
        'false',
        '--seed',
        '42',
        '--log-level',
        'debug',
        '--id',
        'org.example.eu-1',
        '--time-scale',
        '0.5',
        '--execute',
        '--work-dir',
        '/tmp/sim work',
        '--backend-parameters',
        ' VmSize, queue ,,',
        '--storage=file:///data,s3://bucket',
        '--tes-version',
        '1.1.0',
      ],
      {},
    );
    expect(config).toEqual({
      name: 'eu-1',
      id: 'org.example.eu-1',
      host: '0.0.0.0',
      port: 8081,
      latitude: 52.5,
      longitude: -13.4,
      queuedMs: 1,
      initializingMs: 2,
      runningMs: 3,
      failureRate: 0.25,
      failureKind: 'PREEMPTED',
      latencyMs: 4,
      refuseMs: 5,
      errorMs: 6,
      list: false,
      seed: 42,
      logLevel: 'debug',
      timeScale: 0.5,
      execute: true,
      workDir: '/tmp/sim work',
      backendParameters: ['VmSize', 'queue'],
      storage: ['file:///data', 's3://bucket'],
      tesVersion: '1.1.0',
    });
  });

  it('speaks TES 1.1 unless --tes-version or SIM_TES_VERSION says 1.0.0', () => {
    expect(loadSimConfig([], {}).config.tesVersion).toBe('1.1.0');
    expect(loadSimConfig(['--tes-version', '1.0.0'], {}).config.tesVersion).toBe('1.0.0');
    expect(loadSimConfig([], { SIM_TES_VERSION: '1.0.0' }).config.tesVersion).toBe('1.0.0');
    expect(() => loadSimConfig(['--tes-version', '1.0'], {})).toThrow(
      /--tes-version must be one of 1.1.0, 1.0.0 \(got "1.0"\)/,
    );
  });

  it('refuses backend parameters on a TES 1.0 node, naming both settings', () => {
    expect(() =>
      loadSimConfig(['--tes-version', '1.0.0'], { SIM_BACKEND_PARAMETERS: 'queue' }),
    ).toThrow(
      'SIM_BACKEND_PARAMETERS (--backend-parameters) cannot be given with --tes-version 1.0.0: TES 1.0 has no backend parameters',
    );
    expect(() => resolveSimConfig({ tesVersion: '1.0.0', backendParameters: [] })).toThrow(
      /option backendParameters cannot be given with option tesVersion 1.0.0/,
    );
  });

  it('takes --execute as a switch, and SIM_EXECUTE as a boolean', () => {
    expect(loadSimConfig([], {}).config.execute).toBe(false);
    expect(loadSimConfig([], { SIM_EXECUTE: 'yes' }).config.execute).toBe(true);
    expect(loadSimConfig(['--execute'], { SIM_EXECUTE: 'false' }).config.execute).toBe(true);
    expect(() => loadSimConfig(['--execute=no'], {})).toThrow(/--execute/);
    expect(() => loadSimConfig([], { SIM_EXECUTE: 'maybe' })).toThrow(
      /SIM_EXECUTE \(--execute\) must be true or false/,
    );
  });

  it('reads lists from flags and variables; an empty one declares none', () => {
    expect(loadSimConfig([], {}).config.backendParameters).toBeUndefined();
    expect(loadSimConfig(['--backend-parameters', ''], {}).config.backendParameters).toEqual([]);
    expect(loadSimConfig([], { SIM_STORAGE: 'file:///a' }).config.storage).toEqual(['file:///a']);
    expect(() => loadSimConfig(['--storage', 'file:///a b'], {})).toThrow(
      /--storage must be a comma-separated list of URLs/,
    );
  });

  it('falls back to SIM_ variables, and flags win over them', () => {
    const { config } = loadSimConfig(['--port', '9000'], {
      SIM_PORT: '1234',
      SIM_NAME: 'from-env',
      SIM_RUNNING_MS: '77',
      SIM_LIST: 'false',
      SIM_SEED: '',
    });
    expect(config).toMatchObject({ port: 9000, name: 'from-env', runningMs: 77, list: false });
    expect(config.id).toBe('org.ga4gh.tes-sim.from-env');
  });

  it('derives a stable seed per name', () => {
    const a = loadSimConfig(['--name', 'a'], {}).config.seed;
    expect(loadSimConfig(['--name', 'a'], {}).config.seed).toBe(a);
    expect(loadSimConfig(['--name', 'b'], {}).config.seed).not.toBe(a);
  });

  it('takes --no-list', () => {
    expect(loadSimConfig(['--no-list'], {}).config.list).toBe(false);
    expect(() => loadSimConfig(['--no-list', '--list', 'true'], {})).toThrow(/--no-list/);
  });

  it('reads --help', () => {
    expect(loadSimConfig(['-h'], {}).help).toBe(true);
  });

  it.each([
    [['--port', 'abc'], /--port must be an integer from 0 to 65535 \(got "abc"\)/],
    [['--port', '70000'], /--port must be an integer from 0 to 65535/],
    [['--port', ''], /--port must be an integer/],
    [['--queued-ms=-1'], /--queued-ms must be an integer/],
    [['--queued-ms', '-1'], /--queued-ms/],
    [['--running-ms', '1.5'], /--running-ms must be an integer/],
    [['--failure-rate', '1.5'], /--failure-rate must be a number from 0 to 1/],
    [
      ['--failure-kind', 'CANCELED'],
      /--failure-kind must be one of EXECUTOR_ERROR, SYSTEM_ERROR, PREEMPTED/,
    ],
    [['--latitude', '91'], /--latitude must be a number from -90 to 90/],
    [['--longitude', 'east'], /--longitude must be a number from -180 to 180/],
    [['--list', 'maybe'], /--list must be true or false/],
    [['--log-level', 'loud'], /--log-level must be one of/],
    [['--time-scale=-1'], /--time-scale must be a number from 0 to 1000/],
    [['--name', 'has space'], /--name must be a short name/],
    [['--colour', 'red'], /--colour/],
    [['--port'], /--port/],
    [['stray'], /stray/],
  ])('names the bad flag in %j', (argv, message) => {
    expect(() => loadSimConfig(argv, {})).toThrow(SimConfigError);
    expect(() => loadSimConfig(argv, {})).toThrow(message);
  });

  it('names the variable and its flag when the environment is wrong', () => {
    expect(() => loadSimConfig([], { SIM_ERROR_MS: 'soon' })).toThrow(
      /SIM_ERROR_MS \(--error-ms\) must be an integer/,
    );
  });
});

describe('resolveSimConfig', () => {
  it('fills defaults around the options given', () => {
    expect(resolveSimConfig({ name: 'x', runningMs: 5 })).toMatchObject({
      name: 'x',
      runningMs: 5,
      port: 0,
    });
  });

  it('names a bad or unknown option', () => {
    expect(() => resolveSimConfig({ failureRate: 2 })).toThrow(
      /option failureRate must be a number from 0 to 1/,
    );
    expect(() => resolveSimConfig({ storage: 'file:///x' } as never)).toThrow(
      /option storage must be a comma-separated list/,
    );
    expect(() => resolveSimConfig({ runMs: 5 } as never)).toThrow(
      /unknown simulator option "runMs"/,
    );
  });
});
