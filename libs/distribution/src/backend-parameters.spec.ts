import type { TesTaskRequest } from '@protes/tes';
import {
  backendParametersFor,
  strictBackendParameters,
  strictBackendParametersNoneSupports,
  takesStrictBackendParameters,
  unsupportedBackendParameters,
} from './backend-parameters';

const task = (resources: TesTaskRequest['resources']): TesTaskRequest => ({
  executors: [{ image: 'alpine', command: ['true'] }],
  resources,
});

describe('backend parameter rules', () => {
  it('requires the keys only under backend_parameters_strict', () => {
    const backend_parameters = { VmSize: 'large', queue: 'fast' };
    expect(
      strictBackendParameters({ backend_parameters, backend_parameters_strict: true }),
    ).toEqual(['VmSize', 'queue']);
    expect(strictBackendParameters({ backend_parameters })).toEqual([]);
    expect(strictBackendParameters({ backend_parameters_strict: true })).toEqual([]);
    expect(strictBackendParameters(undefined)).toEqual([]);
  });

  it('compares keys case-insensitively; a node declaring nothing supports no key', () => {
    expect(unsupportedBackendParameters(['VMSIZE', 'gpu'], ['vmsize'])).toEqual(['gpu']);
    expect(unsupportedBackendParameters(['vmsize'], undefined)).toEqual(['vmsize']);
    expect(unsupportedBackendParameters(['vmsize'], [])).toEqual(['vmsize']);
    expect(unsupportedBackendParameters([], undefined)).toEqual([]);
  });

  it('lets a node take strict keys only when it supports them all', () => {
    const resources = { backend_parameters: { a: '1', B: '2' }, backend_parameters_strict: true };
    expect(takesStrictBackendParameters(resources, ['A', 'b', 'c'])).toBe(true);
    expect(takesStrictBackendParameters(resources, ['a'])).toBe(false);
    expect(takesStrictBackendParameters(resources, undefined)).toBe(false);
    expect(takesStrictBackendParameters({ backend_parameters: { a: '1' } }, undefined)).toBe(true);
  });

  it('names the strict keys that no node supports', () => {
    const resources = {
      backend_parameters: { a: '1', b: '2', c: '3' },
      backend_parameters_strict: true,
    };
    expect(strictBackendParametersNoneSupports(resources, [['A'], undefined, ['b']])).toEqual([
      'c',
    ]);
    expect(strictBackendParametersNoneSupports(resources, [])).toEqual(['a', 'b', 'c']);
    expect(
      strictBackendParametersNoneSupports({ backend_parameters: { z: '1' } }, [undefined]),
    ).toEqual([]);
  });

  describe('the task for one node', () => {
    const hints = task({ cpu_cores: 2, backend_parameters: { VmSize: 'large', queue: 'fast' } });

    it('drops the non-strict keys a node that declares its keys does not support', () => {
      const { task: sent, dropped } = backendParametersFor(hints, ['vmsize']);
      expect(dropped).toEqual(['queue']);
      expect(sent.resources).toEqual({ cpu_cores: 2, backend_parameters: { VmSize: 'large' } });
      // The task given is never changed.
      expect(hints.resources?.backend_parameters).toEqual({ VmSize: 'large', queue: 'fast' });
      expect(backendParametersFor(hints, []).task.resources?.backend_parameters).toEqual({});
    });

    it('keeps the task as it is for a node that declares nothing, or supports every key', () => {
      expect(backendParametersFor(hints, undefined)).toEqual({ task: hints, dropped: [] });
      expect(backendParametersFor(hints, ['QUEUE', 'vmSize'])).toEqual({
        task: hints,
        dropped: [],
      });
      const none = task({ cpu_cores: 1 });
      expect(backendParametersFor(none, ['x'])).toEqual({ task: none, dropped: [] });
    });

    it('never drops strict keys', () => {
      const strict = task({ backend_parameters: { a: '1' }, backend_parameters_strict: true });
      expect(backendParametersFor(strict, ['b'])).toEqual({ task: strict, dropped: [] });
    });
  });
});
