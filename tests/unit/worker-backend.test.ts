import { describe, expect, it } from 'vitest';

import { backendsBefore, firstLine, isSoftwareRenderer, selectBackend, softwareSkipReason, type BackendAttempt } from '../../src/worker/backend-order.ts';
import type { BackendName } from '../../src/worker/protocol.ts';

/** Returns an attempt function with a fixed outcome per backend, and the list of backends it was called for. */
function attempts(outcomes: Partial<Record<BackendName, BackendAttempt | Error>>): {
  attempt: (backend: BackendName) => Promise<BackendAttempt>;
  tried: BackendName[];
} {
  const tried: BackendName[] = [];
  return {
    tried,
    attempt: async (backend) => {
      tried.push(backend);
      const outcome = outcomes[backend] ?? { ok: true };
      if (outcome instanceof Error) throw outcome;
      return outcome;
    },
  };
}

const NO_OPTIONS = { exclude: [], simulateFailure: [] };

describe('selectBackend', () => {
  it('takes WebGPU first', async () => {
    const { attempt } = attempts({ webgpu: { ok: true, adapter: 'google swiftshader (fallback adapter)' } });

    expect(await selectBackend(NO_OPTIONS, attempt)).toEqual({
      backend: 'webgpu',
      skipped: [],
      adapter: 'google swiftshader (fallback adapter)',
    });
  });

  it('reports a software renderer', async () => {
    const { attempt } = attempts({ webgpu: { ok: true, adapter: 'google swiftshader (fallback adapter)', software: true } });

    expect(await selectBackend(NO_OPTIONS, attempt)).toEqual({
      backend: 'webgpu',
      skipped: [],
      adapter: 'google swiftshader (fallback adapter)',
      software: true,
    });
  });

  it('falls back in order with reasons', async () => {
    const { attempt, tried } = attempts({
      webgpu: { ok: false, reason: 'navigator.gpu.requestAdapter() returned null' },
      webgl: new Error('WebGL context lost\nsecond line'),
    });
    const report = await selectBackend(NO_OPTIONS, attempt);

    expect(tried).toEqual(['webgpu', 'webgl', 'wasm']);
    expect(report).toEqual({
      backend: 'wasm',
      skipped: [
        { backend: 'webgpu', reason: 'navigator.gpu.requestAdapter() returned null' },
        { backend: 'webgl', reason: 'threw WebGL context lost' },
      ],
    });
  });

  it('skips a simulated failure without trying it', async () => {
    const { attempt, tried } = attempts({});
    const report = await selectBackend({ exclude: [], simulateFailure: ['webgpu'] }, attempt);

    expect(tried).toEqual(['webgl']);
    expect(report).toEqual({ backend: 'webgl', skipped: [{ backend: 'webgpu', reason: 'simulated failure' }] });
  });

  it('skips excluded backends with their reasons', async () => {
    const { attempt, tried } = attempts({});
    const report = await selectBackend(
      {
        exclude: ['webgpu', 'webgl'],
        exclusionReasons: { webgpu: 'excluded after the webgpu device was lost: destroyed' },
        simulateFailure: [],
      },
      attempt,
    );

    expect(tried).toEqual(['wasm']);
    expect(report.skipped).toEqual([
      { backend: 'webgpu', reason: 'excluded after the webgpu device was lost: destroyed' },
      { backend: 'webgl', reason: 'excluded by the client' },
    ]);
  });

  it('lists every reason when nothing starts', async () => {
    const { attempt } = attempts({
      webgpu: { ok: false, reason: 'no navigator.gpu' },
      webgl: { ok: false, reason: "tf.setBackend('webgl') returned false" },
      cpu: new TypeError('broken'),
    });

    await expect(selectBackend({ exclude: [], simulateFailure: ['wasm'] }, attempt)).rejects.toThrow(
      "no tfjs backend started: webgpu: no navigator.gpu; webgl: tf.setBackend('webgl') returned false; " +
        'wasm: simulated failure; cpu: threw TypeError: broken',
    );
  });
});

describe('isSoftwareRenderer', () => {
  it.each([
    'google swiftshader (fallback adapter)',
    'ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero) (0x0000C0DE)), SwiftShader driver)',
    'llvmpipe (LLVM 15.0.6, 256 bits)',
  ])('marks %s as software', (description) => {
    expect(isSoftwareRenderer(description)).toBe(true);
  });

  it.each(['nvidia ampere NVIDIA GeForce RTX 3080', 'ANGLE (Intel, Mesa Intel(R) UHD Graphics 620 (KBL GT2), OpenGL 4.6)', 'apple metal-3'])(
    'marks %s as hardware',
    (description) => {
      expect(isSoftwareRenderer(description)).toBe(false);
    },
  );
});

describe('softwareSkipReason', () => {
  it('skips a software renderer with the way back', () => {
    expect(softwareSkipReason('webgpu', 'google swiftshader (fallback adapter)', false)).toBe(
      'software renderer google swiftshader (fallback adapter), slower here than WASM; open the link with backend=webgpu to use it anyway',
    );
  });

  it('keeps a software renderer when allowed', () => {
    expect(softwareSkipReason('webgl', 'SwiftShader Device', true)).toBeNull();
  });

  it('keeps a hardware GPU', () => {
    expect(softwareSkipReason('webgpu', 'nvidia ampere', false)).toBeNull();
  });
});

describe('backendsBefore', () => {
  it('lists the faster backends to skip', () => {
    expect(backendsBefore('wasm')).toEqual(['webgpu', 'webgl']);
  });

  it('skips none for the first backend', () => {
    expect(backendsBefore('webgpu')).toEqual([]);
  });

  it('skips none without a preference', () => {
    expect(backendsBefore(undefined)).toEqual([]);
  });
});

describe('firstLine', () => {
  it('keeps the first line of a message', () => {
    expect(firstLine(new Error('one\ntwo'))).toBe('one');
  });

  it('names error subclasses', () => {
    expect(firstLine(new RangeError('bad'))).toBe('RangeError: bad');
  });

  it('formats non-errors', () => {
    expect(firstLine(42)).toBe('42');
  });
});
