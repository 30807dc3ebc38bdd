import type { TesResources } from '@protes/tes';
import { ResourcesMiddleware } from './resources.middleware';
import { context, names, node, task } from './testing/fixtures';

describe('ResourcesMiddleware', () => {
  const middleware = new ResourcesMiddleware();
  const candidates = [
    node('undeclared'),
    node('small', { resources: { cpuCores: 2, ramGb: 4, diskGb: 50 } }),
    node('big', {
      resources: { cpuCores: 64, ramGb: 512, diskGb: 10_000, zones: ['eu-1', 'eu-2'] },
    }),
    node('spot', { resources: { preemptible: true, zones: ['us-1'] } }),
    node('gpu', { resources: { backendParameters: ['GPU_Type', 'vm_size'], preemptible: false } }),
  ];
  const keep = async (resources: TesResources) =>
    names(await middleware.handle(context(candidates, task({ resources }))));

  it('is named resources', () => {
    expect(middleware.name).toBe('resources');
  });

  it('keeps every node for a task without resources', async () => {
    expect(names(await middleware.handle(context(candidates)))).toEqual(
      candidates.map((c) => c.name),
    );
  });

  it('drops nodes whose declared ceilings are below the request', async () => {
    expect(await keep({ cpu_cores: 2, ram_gb: 4, disk_gb: 50 })).toEqual(
      candidates.map((c) => c.name),
    );
    expect(await keep({ cpu_cores: 4 })).toEqual(['undeclared', 'big', 'spot', 'gpu']);
    expect(await keep({ ram_gb: 4.5 })).toEqual(['undeclared', 'big', 'spot', 'gpu']);
    expect(await keep({ disk_gb: 20_000 })).toEqual(['undeclared', 'spot', 'gpu']);
  });

  it('sends a task that must not be preempted away from preemptible-only nodes', async () => {
    expect(await keep({ preemptible: false })).toEqual(['undeclared', 'small', 'big', 'gpu']);
    expect(await keep({ preemptible: true })).toEqual(candidates.map((c) => c.name));
  });

  it('needs zones to overlap when both sides name zones', async () => {
    expect(await keep({ zones: ['eu-2', 'ap-1'] })).toEqual(['undeclared', 'small', 'big', 'gpu']);
    expect(await keep({ zones: [] })).toEqual(candidates.map((c) => c.name));
  });

  it('with backend_parameters_strict, keeps only nodes declaring every key, case-insensitively', async () => {
    const backend_parameters = { gpu_type: 'a100', VM_SIZE: 'large' };
    expect(await keep({ backend_parameters, backend_parameters_strict: true })).toEqual(['gpu']);
    expect(
      await keep({
        backend_parameters: { gpu_type: 'x', disk_type: 'ssd' },
        backend_parameters_strict: true,
      }),
    ).toEqual([]);
    expect(await keep({ backend_parameters })).toEqual(candidates.map((c) => c.name));
    expect(await keep({ backend_parameters: {}, backend_parameters_strict: true })).toEqual(
      candidates.map((c) => c.name),
    );
  });

  it('combines every constraint', async () => {
    expect(await keep({ cpu_cores: 8, preemptible: false, zones: ['us-1', 'eu-1'] })).toEqual([
      'undeclared',
      'big',
      'gpu',
    ]);
  });
});
