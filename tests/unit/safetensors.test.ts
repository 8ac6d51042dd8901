import { describe, expect, it } from 'vitest';

import {
  SafetensorsError,
  decodeSafetensors,
  encodeSafetensors,
  type SafetensorsTensor,
} from '../../src/core/checkpoint/safetensors';

/**
 * Builds a safetensors file by hand, independent of the encoder. The file is the
 * 8-byte little-endian length, the header padded with spaces to a multiple of 8, then `data`.
 * A string header is written as is, so tests can supply invalid JSON.
 */
function buildFile(header: unknown, data: ArrayLike<number> = []): Uint8Array {
  const text = typeof header === 'string' ? header : JSON.stringify(header);
  const headerBytes = new TextEncoder().encode(text);
  const paddedLength = Math.ceil(headerBytes.length / 8) * 8;

  const file = new Uint8Array(8 + paddedLength + data.length);
  new DataView(file.buffer).setBigUint64(0, BigInt(paddedLength), true);
  file.set(headerBytes, 8);
  file.fill(0x20, 8 + headerBytes.length, 8 + paddedLength);
  file.set(Array.from(data), 8 + paddedLength);
  return file;
}

/** Builds a file whose length field is `headerLength`, followed by `rest`. */
function withLengthField(headerLength: bigint, rest: ArrayLike<number> = []): Uint8Array {
  const file = new Uint8Array(8 + rest.length);
  new DataView(file.buffer).setBigUint64(0, headerLength, true);
  file.set(Array.from(rest), 8);
  return file;
}

function bytesOf(data: ArrayBufferView): number[] {
  return Array.from(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}

/** Returns the SafetensorsError message that `action` throws, or fails the test. */
function errorMessage(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(SafetensorsError);
    return (error as SafetensorsError).message;
  }
  throw new Error('expected a SafetensorsError, but nothing was thrown');
}

function decodeError(file: Uint8Array): string {
  return errorMessage(() => decodeSafetensors(file));
}

const F32_ENTRY = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };

describe('safetensors round trip', () => {
  it('restores dtypes, shapes, data and metadata', () => {
    const tensors: Record<string, SafetensorsTensor> = {
      'layer.weight': { dtype: 'F32', shape: [2, 3], data: new Float32Array([1, -2.5, 3.25, 0, 1e-30, -7]) },
      'layer.bias': { dtype: 'F64', shape: [4], data: new Float64Array([Math.PI, -0, Infinity, NaN]) },
      steps: { dtype: 'I32', shape: [3], data: new Int32Array([-2147483648, 0, 2147483647]) },
      scale: { dtype: 'F32', shape: [], data: new Float32Array([0.5]) },
      empty: { dtype: 'F64', shape: [0, 5], data: new Float64Array(0) },
    };
    const metadata = { format: 'pt', note: 'ünïcödé ✓' };

    const decoded = decodeSafetensors(encodeSafetensors(tensors, metadata));

    expect(Object.keys(decoded.tensors).sort()).toEqual(Object.keys(tensors).sort());
    for (const [name, original] of Object.entries(tensors)) {
      const restored = decoded.tensors[name]!;
      expect(restored.dtype, name).toBe(original.dtype);
      expect(restored.shape, name).toEqual(original.shape);
      expect(restored.data.constructor, name).toBe(original.data.constructor);
      expect(bytesOf(restored.data), name).toEqual(bytesOf(original.data));
    }
    expect(decoded.metadata).toEqual(metadata);
  });

  it('returns empty metadata by default', () => {
    const tensors = { x: { dtype: 'I32' as const, shape: [1], data: new Int32Array([5]) } };

    const decoded = decodeSafetensors(encodeSafetensors(tensors));

    expect(decoded.metadata).toEqual({});
    expect(Array.from(decoded.tensors.x!.data)).toEqual([5]);
  });

  it('encodes and decodes zero tensors', () => {
    const bytes = encodeSafetensors({});

    expect(bytes.length).toBe(16);
    expect(decodeSafetensors(bytes)).toEqual({ tensors: {}, metadata: {} });
  });

  it('keeps special tensor names as entries', () => {
    const tensors: Record<string, SafetensorsTensor> = Object.fromEntries([
      ['__proto__', { dtype: 'F32', shape: [1], data: new Float32Array([1]) }],
      ['10', { dtype: 'F32', shape: [1], data: new Float32Array([10]) }],
      ['2', { dtype: 'F32', shape: [1], data: new Float32Array([2]) }],
    ]);

    const decoded = decodeSafetensors(encodeSafetensors(tensors));

    expect(Object.getPrototypeOf(decoded.tensors)).toBe(Object.prototype);
    expect(Object.hasOwn(decoded.tensors, '__proto__')).toBe(true);
    expect(Array.from(decoded.tensors['__proto__']!.data)).toEqual([1]);
    expect(Array.from(decoded.tensors['10']!.data)).toEqual([10]);
    expect(Array.from(decoded.tensors['2']!.data)).toEqual([2]);
  });
});

describe('safetensors byte layout', () => {
  // The fixture puts "__metadata__" first, then the tensors sorted by name, with
  // their data laid out contiguously in the same order. The header is 138 bytes, so
  // 6 spaces pad it to 144 and the data buffer starts at byte 152 = 8 × 19.
  const headerText =
    '{"__metadata__":{"format":"pt"},' +
    '"a":{"dtype":"I32","shape":[],"data_offsets":[0,4]},' +
    '"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}';
  const dataBytes = [
    ...[7, 0, 0, 0], // a: I32 7
    ...[0, 0, 0xc0, 0x3f], // b[0]: F32 1.5 = 0x3fc00000
    ...[0, 0, 0, 0xc0], // b[1]: F32 -2 = 0xc0000000
  ];
  const fixture = Uint8Array.from([
    ...[144, 0, 0, 0, 0, 0, 0, 0],
    ...new TextEncoder().encode(headerText),
    ...new Array<number>(6).fill(0x20),
    ...dataBytes,
  ]);

  it('encoder writes the exact fixture bytes', () => {
    // "b" is inserted first to check that the encoder sorts by name.
    const bytes = encodeSafetensors(
      {
        b: { dtype: 'F32', shape: [2], data: new Float32Array([1.5, -2]) },
        a: { dtype: 'I32', shape: [], data: new Int32Array([7]) },
      },
      { format: 'pt' },
    );

    expect(headerText.length).toBe(138);
    expect(Array.from(bytes.subarray(0, 8))).toEqual([144, 0, 0, 0, 0, 0, 0, 0]);
    expect((8 + 144) % 8).toBe(0);
    expect(new TextDecoder().decode(bytes.subarray(8, 152))).toBe(headerText + '      ');
    expect(Array.from(bytes.subarray(152))).toEqual(dataBytes);
    expect(Array.from(bytes)).toEqual(Array.from(fixture));
  });

  it('decoder reads the fixture', () => {
    const { tensors, metadata } = decodeSafetensors(fixture);

    expect(metadata).toEqual({ format: 'pt' });
    expect(tensors.a!.dtype).toBe('I32');
    expect(tensors.a!.shape).toEqual([]);
    expect(Array.from(tensors.a!.data)).toEqual([7]);
    expect(tensors.b!.dtype).toBe('F32');
    expect(tensors.b!.shape).toEqual([2]);
    expect(tensors.b!.data).toBeInstanceOf(Float32Array);
    expect(Array.from(tensors.b!.data)).toEqual([1.5, -2]);
  });

  it('encoder aligns data for all header lengths', () => {
    for (let nameLength = 1; nameLength <= 8; nameLength++) {
      const name = 'n'.repeat(nameLength);
      const bytes = encodeSafetensors({ [name]: { dtype: 'F64', shape: [1], data: new Float64Array([1]) } });
      const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));

      expect(headerLength % 8, name).toBe(0);
      expect(bytes.length, name).toBe(8 + headerLength + 8);
    }
  });
});

describe('safetensors decoding from a subarray', () => {
  it('decodes at an odd byteOffset', () => {
    const encoded = encodeSafetensors({
      f32: { dtype: 'F32', shape: [3], data: new Float32Array([0.25, -1, 8]) },
      f64: { dtype: 'F64', shape: [2], data: new Float64Array([1e300, -3.5]) },
      i32: { dtype: 'I32', shape: [2], data: new Int32Array([-9, 123456]) },
    });
    const parent = new Uint8Array(encoded.length + 10).fill(0xab);
    parent.set(encoded, 3);
    const view = parent.subarray(3, 3 + encoded.length);

    const { tensors } = decodeSafetensors(view);

    expect(view.byteOffset).toBe(3);
    expect(Array.from(tensors.f32!.data)).toEqual([0.25, -1, 8]);
    expect(Array.from(tensors.f64!.data)).toEqual([1e300, -3.5]);
    expect(Array.from(tensors.i32!.data)).toEqual([-9, 123456]);
    for (const [name, tensor] of Object.entries(tensors)) {
      expect(tensor.data.byteOffset, name).toBe(0);
      expect(tensor.data.buffer, name).not.toBe(parent.buffer);
    }
  });
});

describe('safetensors decoder rejections', () => {
  it('rejects a file shorter than 8 bytes', () => {
    const message = decodeError(new Uint8Array(5));

    expect(message).toMatch(/^Truncated/);
    expect(message).toContain('5 bytes is shorter than the 8-byte header length field');
  });

  it('rejects a header length above 100 MB', () => {
    const justAbove = decodeError(withLengthField(100_000_001n, [0x7b, 0x7d]));
    const highBitsSet = decodeError(withLengthField(1n << 40n));

    expect(justAbove).toContain('Invalid safetensors header length 100000001');
    expect(justAbove).toContain('above the 100000000-byte limit');
    expect(highBitsSet).toContain(`header length ${1n << 40n}`);
  });

  it('rejects a header length beyond the file', () => {
    const message = decodeError(withLengthField(64n, new Array<number>(10).fill(0x20)));

    expect(message).toMatch(/^Truncated/);
    expect(message).toContain('header length 64 exceeds the 10 bytes after the length field');
  });

  it('rejects a header that is not UTF-8', () => {
    const message = decodeError(withLengthField(2n, [0xff, 0xfe]));

    expect(message).toContain('Invalid safetensors header');
    expect(message).toContain('not valid UTF-8');
  });

  it('rejects a header that is not JSON', () => {
    const message = decodeError(buildFile('{"a":'));

    expect(message).toContain('Invalid safetensors header: not valid JSON');
  });

  it('rejects a header that is not an object', () => {
    expect(decodeError(buildFile('[1,2]'))).toContain('expected a JSON object, got an array');
    expect(decodeError(buildFile('null'))).toContain('expected a JSON object, got null');
    expect(decodeError(buildFile('42'))).toContain('expected a JSON object, got a number');
  });

  it('rejects a tensor entry that is not an object', () => {
    const message = decodeError(buildFile({ w: [1, 2] }));

    expect(message).toContain('Invalid entry for tensor "w": expected an object, got an array');
  });

  it('rejects a tensor entry with missing fields', () => {
    for (const field of ['dtype', 'shape', 'data_offsets']) {
      const entry: Record<string, unknown> = { ...F32_ENTRY };
      delete entry[field];

      const message = decodeError(buildFile({ w: entry }, new Array<number>(8).fill(0)));

      expect(message, field).toContain(`Invalid entry for tensor "w": missing "${field}"`);
    }
  });

  it('rejects a dtype that is not a string', () => {
    const message = decodeError(buildFile({ w: { ...F32_ENTRY, dtype: 4 } }));

    expect(message).toContain('Invalid dtype for tensor "w": expected a string, got a number');
  });

  it('rejects a shape that is not an array', () => {
    const message = decodeError(buildFile({ w: { ...F32_ENTRY, shape: '2' } }));

    expect(message).toContain('Invalid shape for tensor "w": expected an array, got a string');
  });

  it('rejects malformed data_offsets', () => {
    const cases: unknown[] = ['0,8', [0], [0, 4, 8], [0, '8'], [-4, 4], [0, 8.5], null];
    for (const offsets of cases) {
      const message = decodeError(buildFile({ w: { ...F32_ENTRY, data_offsets: offsets } }));

      expect(message, JSON.stringify(offsets)).toContain('Invalid data_offsets for tensor "w"');
      expect(message, JSON.stringify(offsets)).toContain('two non-negative integers');
    }
  });

  it('rejects unsupported dtypes by name', () => {
    for (const dtype of ['F16', 'BF16', 'I64', 'float32']) {
      const message = decodeError(buildFile({ w: { ...F32_ENTRY, dtype } }));

      expect(message, dtype).toContain(`Unsupported dtype ${dtype} for tensor "w"`);
      expect(message, dtype).toContain('Supported dtypes: F32, F64, I32');
    }
  });

  it('rejects negative and non-integer shape entries', () => {
    const negative = decodeError(buildFile({ w: { ...F32_ENTRY, shape: [2, -1] } }));
    const fractional = decodeError(buildFile({ w: { ...F32_ENTRY, shape: [2.5] } }));
    const text = decodeError(buildFile({ w: { ...F32_ENTRY, shape: ['2'] } }));

    expect(negative).toContain('Invalid shape [2,-1] for tensor "w"');
    expect(negative).toContain('non-negative integer, got -1 at index 1');
    expect(fractional).toContain('non-negative integer, got 2.5 at index 0');
    expect(text).toContain('non-negative integer, got 2 at index 0');
  });

  it('rejects offsets out of range', () => {
    const message = decodeError(buildFile({ w: F32_ENTRY }, [0, 0, 0, 0]));

    expect(message).toMatch(/^Truncated/);
    expect(message).toContain('data_offsets [0, 8] for tensor "w" are out of range for the 4-byte data buffer');
  });

  it('rejects reversed offsets', () => {
    const message = decodeError(buildFile({ w: { ...F32_ENTRY, data_offsets: [8, 0] } }));

    expect(message).toContain('Invalid data_offsets [8, 0] for tensor "w": begin is after end');
  });

  it('rejects overlapping offsets', () => {
    const header = { a: F32_ENTRY, b: { ...F32_ENTRY, data_offsets: [4, 12] } };

    const message = decodeError(buildFile(header, new Array<number>(12).fill(0)));

    expect(message).toContain('Invalid data_offsets [4, 12] for tensor "b"');
    expect(message).toContain('overlap tensor "a" at [0, 8]');
  });

  it('rejects a gap between tensors', () => {
    const header = { a: F32_ENTRY, b: { ...F32_ENTRY, data_offsets: [12, 20] } };

    const message = decodeError(buildFile(header, new Array<number>(20).fill(0)));

    expect(message).toContain('Invalid data_offsets [12, 20] for tensor "b"');
    expect(message).toContain('gap of 4 bytes after tensor "a", which ends at 8');
  });

  it('rejects a gap before the first tensor', () => {
    const header = { a: { ...F32_ENTRY, data_offsets: [4, 12] } };

    const message = decodeError(buildFile(header, new Array<number>(12).fill(0)));

    expect(message).toContain('Invalid data_offsets [4, 12] for tensor "a"');
    expect(message).toContain('gap of 4 bytes at the start of the data buffer');
  });

  it('rejects offsets mismatching dtype and shape', () => {
    const header = { w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } };

    const message = decodeError(buildFile(header, new Array<number>(8).fill(0)));

    expect(message).toContain('Invalid data_offsets [0, 8] for tensor "w"');
    expect(message).toContain('span 8 bytes, but F32 shape [3] needs 12 bytes');
  });

  it('rejects a buffer longer than the last tensor', () => {
    const message = decodeError(buildFile({ w: F32_ENTRY }, new Array<number>(12).fill(0)));

    expect(message).toContain('Invalid safetensors file');
    expect(message).toContain('the data buffer has 12 bytes, but the tensors end at 8, leaving 4 unused bytes');
  });

  it('rejects data in a file without tensors', () => {
    const message = decodeError(buildFile({}, [1, 2, 3, 4]));

    expect(message).toContain('the tensors end at 0, leaving 4 unused bytes');
  });

  it('rejects invalid metadata', () => {
    const notObject = decodeError(buildFile({ __metadata__: ['pt'] }));
    const notString = decodeError(buildFile({ __metadata__: { format: 'pt', epoch: 3 } }));

    expect(notObject).toContain('Invalid "__metadata__": expected an object of strings, got an array');
    expect(notString).toContain('Invalid "__metadata__" value for key "epoch": expected a string, got a number');
  });
});

describe('safetensors encoder rejections', () => {
  it('rejects data that does not match the shape', () => {
    const message = errorMessage(() =>
      encodeSafetensors({ w: { dtype: 'F32', shape: [2, 3], data: new Float32Array(5) } }),
    );

    expect(message).toContain('Invalid data for tensor "w": shape [2,3] needs 6 elements, but data has 5');
  });

  it('rejects data of the wrong array type', () => {
    const message = errorMessage(() =>
      encodeSafetensors({ w: { dtype: 'F32', shape: [2], data: new Float64Array(2) } }),
    );

    expect(message).toContain('Invalid data for tensor "w": dtype F32 needs a Float32Array, got Float64Array');
  });

  it('rejects invalid shapes', () => {
    const message = errorMessage(() =>
      encodeSafetensors({ w: { dtype: 'I32', shape: [-1], data: new Int32Array(0) } }),
    );

    expect(message).toContain('Invalid shape [-1] for tensor "w"');
  });

  it('rejects unsupported dtypes', () => {
    const tensor = { dtype: 'F16', shape: [1], data: new Float32Array(1) } as unknown as SafetensorsTensor;

    const message = errorMessage(() => encodeSafetensors({ w: tensor }));

    expect(message).toContain('Unsupported dtype F16 for tensor "w". Supported dtypes: F32, F64, I32');
  });

  it('rejects non-string metadata', () => {
    const metadata = { format: 'pt', epoch: 3 } as unknown as Record<string, string>;

    const message = errorMessage(() => encodeSafetensors({}, metadata));

    expect(message).toContain('Invalid metadata value for key "epoch": expected a string, got a number');
  });

  it('rejects the reserved name __metadata__', () => {
    const message = errorMessage(() =>
      encodeSafetensors({ __metadata__: { dtype: 'F32', shape: [1], data: new Float32Array(1) } }),
    );

    expect(message).toContain('Invalid tensor name "__metadata__"');
    expect(message).toContain('reserved for the metadata entry');
  });
});
