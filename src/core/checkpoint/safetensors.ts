/**
 * Reader and writer for the Hugging Face safetensors format, limited to the
 * F32, F64 and I32 dtypes.
 *
 * Layout: an 8-byte little-endian unsigned header length N, then N bytes of
 * UTF-8 JSON header, then the data buffer. The header maps each tensor name to
 * {"dtype", "shape", "data_offsets": [begin, end]}, with offsets relative to the
 * start of the data buffer, plus an optional "__metadata__" map of strings.
 * Tensor data is little-endian and row-major.
 *
 * The module uses only ECMAScript built-ins and TextEncoder/TextDecoder, so it
 * runs in Node, browsers and workers.
 */

export type SafetensorsDtype = 'F32' | 'F64' | 'I32';

export interface SafetensorsTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array | Float64Array | Int32Array;
}

/** Error raised for a malformed file or for tensors that cannot be encoded. */
export class SafetensorsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetensorsError';
  }
}

/** Upper bound on the header length, the same as MAX_HEADER_SIZE in the Rust safetensors crate. */
const MAX_HEADER_BYTES = 100_000_000;

const LENGTH_FIELD_BYTES = 8;
const METADATA_KEY = '__metadata__';

/** Element size in bytes and typed array class name of each supported dtype. */
const DTYPES: Readonly<Record<SafetensorsDtype, { bytes: number; arrayName: string }>> = {
  F32: { bytes: 4, arrayName: 'Float32Array' },
  F64: { bytes: 8, arrayName: 'Float64Array' },
  I32: { bytes: 4, arrayName: 'Int32Array' },
};

const SUPPORTED_DTYPES = Object.keys(DTYPES).join(', ');

// The ES2022 lib that src/core compiles against declares neither TextEncoder nor
// TextDecoder, but Node, browsers and workers all provide both as globals.
interface Utf8Encoder {
  encode(text: string): Uint8Array;
}
interface Utf8Decoder {
  decode(bytes: Uint8Array): string;
}
const textCodecs = globalThis as unknown as {
  TextEncoder: new () => Utf8Encoder;
  TextDecoder: new (label: string, options: { fatal: boolean }) => Utf8Decoder;
};

const IS_LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Encodes tensors into safetensors bytes.
 *
 * Tensors are sorted by name (UTF-16 code unit order) and laid out contiguously.
 * The header is padded with spaces so that the data buffer starts at an 8-byte
 * aligned offset. The "__metadata__" entry is written only when `metadata` is given.
 * Throws SafetensorsError for a reserved or invalid tensor, a data length that does
 * not match the shape, a non-string metadata value or a header above 100 MB.
 */
export function encodeSafetensors(
  tensors: Record<string, SafetensorsTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const names = Object.keys(tensors).sort();
  const headerEntries: string[] = [];

  if (metadata !== undefined) {
    headerEntries.push(`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(checkMetadataToEncode(metadata))}`);
  }

  let dataLength = 0;
  for (const name of names) {
    const tensor = tensors[name]!;
    checkTensorToEncode(name, tensor);

    const begin = dataLength;
    dataLength += tensor.data.byteLength;
    const info = { dtype: tensor.dtype, shape: tensor.shape, data_offsets: [begin, dataLength] };
    headerEntries.push(`${JSON.stringify(name)}:${JSON.stringify(info)}`);
  }

  // The header is built by hand because JSON.stringify on an object would move
  // integer-like tensor names ("0", "1") ahead of the others.
  const headerJson = new textCodecs.TextEncoder().encode(`{${headerEntries.join(',')}}`);
  const padding = (8 - (headerJson.length % 8)) % 8;
  const headerLength = headerJson.length + padding;
  if (headerLength > MAX_HEADER_BYTES) {
    throw new SafetensorsError(
      `Invalid safetensors header: ${headerLength} bytes is above the ${MAX_HEADER_BYTES}-byte limit. ` +
        'Store fewer tensors or less metadata per file.',
    );
  }

  const dataStart = LENGTH_FIELD_BYTES + headerLength;
  const bytes = new Uint8Array(dataStart + dataLength);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, headerLength, true);
  view.setUint32(4, 0, true);
  bytes.set(headerJson, LENGTH_FIELD_BYTES);
  bytes.fill(0x20, LENGTH_FIELD_BYTES + headerJson.length, dataStart);

  let offset = dataStart;
  for (const name of names) {
    const { dtype, data } = tensors[name]!;
    const tensorBytes = bytes.subarray(offset, offset + data.byteLength);
    tensorBytes.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    convertHostToLittleEndian(tensorBytes, DTYPES[dtype].bytes);
    offset += data.byteLength;
  }

  return bytes;
}

/**
 * Decodes safetensors bytes into tensors and metadata.
 *
 * `bytes` may be a view at any byteOffset, because each tensor's data is copied
 * into a new, aligned typed array. The result does not share memory with `bytes`.
 * Throws SafetensorsError, naming the tensor or value at fault, for a truncated
 * file, an invalid or oversized header, an unsupported dtype or an invalid shape.
 * It also throws for data_offsets that are out of range, reversed, overlapping,
 * leave gaps, disagree with dtype and shape, or leave unused bytes at the end.
 */
export function decodeSafetensors(bytes: Uint8Array): {
  tensors: Record<string, SafetensorsTensor>;
  metadata: Record<string, string>;
} {
  const headerLength = readHeaderLength(bytes);
  const dataStart = LENGTH_FIELD_BYTES + headerLength;
  const header = parseHeader(bytes.subarray(LENGTH_FIELD_BYTES, dataStart));

  let metadata: Record<string, string> = {};
  const entries: TensorEntry[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === METADATA_KEY) {
      metadata = parseMetadata(value);
    } else {
      entries.push(parseTensorEntry(name, value));
    }
  }

  const data = bytes.subarray(dataStart);
  checkDataLayout(entries, data.length);

  const tensors = entries.map((entry): [string, SafetensorsTensor] => [
    entry.name,
    { dtype: entry.dtype, shape: entry.shape, data: copyTensorData(data, entry) },
  ]);

  // Object.fromEntries defines own properties, so a tensor named "__proto__"
  // stays an ordinary entry and does not replace the prototype.
  return { tensors: Object.fromEntries(tensors), metadata };
}

interface TensorEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

function readHeaderLength(bytes: Uint8Array): number {
  if (bytes.length < LENGTH_FIELD_BYTES) {
    throw new SafetensorsError(
      `Truncated safetensors file: ${bytes.length} bytes is shorter than the 8-byte header length field.`,
    );
  }

  const view = new DataView(bytes.buffer, bytes.byteOffset, LENGTH_FIELD_BYTES);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(
      `Invalid safetensors header length ${headerLength}: above the ${MAX_HEADER_BYTES}-byte limit.`,
    );
  }

  const available = bytes.length - LENGTH_FIELD_BYTES;
  if (Number(headerLength) > available) {
    throw new SafetensorsError(
      `Truncated safetensors file: header length ${headerLength} exceeds the ${available} bytes ` +
        'after the length field.',
    );
  }
  return Number(headerLength);
}

function parseHeader(headerBytes: Uint8Array): Record<string, unknown> {
  let text: string;
  try {
    text = new textCodecs.TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw new SafetensorsError('Invalid safetensors header: the header bytes are not valid UTF-8.');
  }

  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new SafetensorsError(`Invalid safetensors header: not valid JSON (${reason}).`);
  }

  if (!isPlainObject(header)) {
    throw new SafetensorsError(`Invalid safetensors header: expected a JSON object, got ${describeType(header)}.`);
  }
  return header;
}

function parseMetadata(value: unknown): Record<string, string> {
  if (!isPlainObject(value)) {
    throw new SafetensorsError(`Invalid "${METADATA_KEY}": expected an object of strings, got ${describeType(value)}.`);
  }

  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== 'string') {
      throw new SafetensorsError(
        `Invalid "${METADATA_KEY}" value for key "${key}": expected a string, got ${describeType(item)}.`,
      );
    }
  }
  return Object.fromEntries(Object.entries(value as Record<string, string>));
}

function parseTensorEntry(name: string, value: unknown): TensorEntry {
  if (!isPlainObject(value)) {
    throw new SafetensorsError(`Invalid entry for tensor "${name}": expected an object, got ${describeType(value)}.`);
  }
  for (const field of ['dtype', 'shape', 'data_offsets']) {
    if (!Object.hasOwn(value, field)) {
      throw new SafetensorsError(`Invalid entry for tensor "${name}": missing "${field}".`);
    }
  }

  const { dtype, shape, data_offsets: offsets } = value;
  if (typeof dtype !== 'string') {
    throw new SafetensorsError(`Invalid dtype for tensor "${name}": expected a string, got ${describeType(dtype)}.`);
  }
  if (!isSupportedDtype(dtype)) {
    throw new SafetensorsError(
      `Unsupported dtype ${dtype} for tensor "${name}". Supported dtypes: ${SUPPORTED_DTYPES}. ` +
        'Convert the tensor to one of them before saving.',
    );
  }

  if (!Array.isArray(shape)) {
    throw new SafetensorsError(`Invalid shape for tensor "${name}": expected an array, got ${describeType(shape)}.`);
  }
  checkShape(name, shape);

  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInteger)) {
    throw new SafetensorsError(
      `Invalid data_offsets for tensor "${name}": expected [begin, end] with two non-negative integers, ` +
        `got ${JSON.stringify(offsets)}.`,
    );
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) {
    throw new SafetensorsError(`Invalid data_offsets [${begin}, ${end}] for tensor "${name}": begin is after end.`);
  }

  const expectedBytes = DTYPES[dtype].bytes * countElements(shape);
  if (end - begin !== expectedBytes) {
    throw new SafetensorsError(
      `Invalid data_offsets [${begin}, ${end}] for tensor "${name}": they span ${end - begin} bytes, ` +
        `but ${dtype} shape ${JSON.stringify(shape)} needs ${expectedBytes} bytes.`,
    );
  }

  return { name, dtype, shape: [...shape], begin, end };
}

/**
 * Checks that the tensors tile the data buffer exactly. Sorted by offset, each
 * tensor begins where the previous one ends, and the last one ends at the buffer's end.
 */
function checkDataLayout(entries: TensorEntry[], dataLength: number): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);

  let cursor = 0;
  let previous: TensorEntry | undefined;
  for (const entry of sorted) {
    const offsets = `[${entry.begin}, ${entry.end}]`;
    if (entry.begin < cursor) {
      throw new SafetensorsError(
        `Invalid data_offsets ${offsets} for tensor "${entry.name}": ` +
          `they overlap tensor "${previous!.name}" at [${previous!.begin}, ${previous!.end}].`,
      );
    }
    if (entry.begin > cursor) {
      const where = previous
        ? `after tensor "${previous.name}", which ends at ${cursor}`
        : 'at the start of the data buffer';
      throw new SafetensorsError(
        `Invalid data_offsets ${offsets} for tensor "${entry.name}": ` +
          `they leave a gap of ${entry.begin - cursor} bytes ${where}.`,
      );
    }
    if (entry.end > dataLength) {
      throw new SafetensorsError(
        `Truncated safetensors file: data_offsets ${offsets} for tensor "${entry.name}" are out of range ` +
          `for the ${dataLength}-byte data buffer.`,
      );
    }
    cursor = entry.end;
    previous = entry;
  }

  if (cursor < dataLength) {
    throw new SafetensorsError(
      `Invalid safetensors file: the data buffer has ${dataLength} bytes, but the tensors end at ${cursor}, ` +
        `leaving ${dataLength - cursor} unused bytes.`,
    );
  }
}

function copyTensorData(data: Uint8Array, entry: TensorEntry): SafetensorsTensor['data'] {
  // slice() copies into a fresh ArrayBuffer at offset 0, which satisfies the
  // alignment that typed array views require.
  const copy = data.slice(entry.begin, entry.end);
  convertHostToLittleEndian(copy, DTYPES[entry.dtype].bytes);

  switch (entry.dtype) {
    case 'F32':
      return new Float32Array(copy.buffer);
    case 'F64':
      return new Float64Array(copy.buffer);
    case 'I32':
      return new Int32Array(copy.buffer);
  }
}

function checkTensorToEncode(name: string, tensor: SafetensorsTensor): void {
  if (name === METADATA_KEY) {
    throw new SafetensorsError(`Invalid tensor name "${METADATA_KEY}": the name is reserved for the metadata entry.`);
  }

  const { dtype, shape, data } = tensor;
  if (!isSupportedDtype(dtype)) {
    throw new SafetensorsError(
      `Unsupported dtype ${String(dtype)} for tensor "${name}". Supported dtypes: ${SUPPORTED_DTYPES}.`,
    );
  }
  if (!Array.isArray(shape)) {
    throw new SafetensorsError(`Invalid shape for tensor "${name}": expected an array, got ${describeType(shape)}.`);
  }
  checkShape(name, shape);

  const arrayName = DTYPES[dtype].arrayName;
  const actualName = ArrayBuffer.isView(data) ? Object.prototype.toString.call(data).slice(8, -1) : describeType(data);
  if (actualName !== arrayName) {
    throw new SafetensorsError(
      `Invalid data for tensor "${name}": dtype ${dtype} needs a ${arrayName}, got ${actualName}.`,
    );
  }

  const expectedLength = countElements(shape);
  if (data.length !== expectedLength) {
    throw new SafetensorsError(
      `Invalid data for tensor "${name}": shape ${JSON.stringify(shape)} needs ${expectedLength} elements, ` +
        `but data has ${data.length}.`,
    );
  }
}

function checkMetadataToEncode(metadata: Record<string, string>): Record<string, string> {
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') {
      throw new SafetensorsError(
        `Invalid metadata value for key "${key}": expected a string, got ${describeType(value)}.`,
      );
    }
  }
  return metadata;
}

function checkShape(name: string, shape: unknown[]): asserts shape is number[] {
  const badIndex = shape.findIndex((dimension) => !isNonNegativeInteger(dimension));
  if (badIndex !== -1) {
    throw new SafetensorsError(
      `Invalid shape ${JSON.stringify(shape)} for tensor "${name}": ` +
        `each dimension must be a non-negative integer, got ${String(shape[badIndex])} at index ${badIndex}.`,
    );
  }
  // 8 bytes is the largest element size, so byte counts for a shape that passes stay exact.
  if (countElements(shape as number[]) * 8 > Number.MAX_SAFE_INTEGER) {
    throw new SafetensorsError(`Invalid shape ${JSON.stringify(shape)} for tensor "${name}": too many elements.`);
  }
}

/**
 * Swaps the bytes of each element in place on a big-endian host and does
 * nothing on a little-endian one. The swap is its own inverse, so it converts
 * in both directions.
 */
function convertHostToLittleEndian(bytes: Uint8Array, elementBytes: number): void {
  // NOTE: only little-endian hosts run the tests, so the swap below is untested.
  if (IS_LITTLE_ENDIAN_HOST) return;

  for (let start = 0; start < bytes.length; start += elementBytes) {
    bytes.subarray(start, start + elementBytes).reverse();
  }
}

function countElements(shape: readonly number[]): number {
  return shape.reduce((product, dimension) => product * dimension, 1);
}

function isSupportedDtype(dtype: unknown): dtype is SafetensorsDtype {
  return typeof dtype === 'string' && Object.hasOwn(DTYPES, dtype);
}

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Names the JSON-level type of a value with its article, for error messages. */
function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  const type = typeof value;
  return type === 'object' ? 'an object' : `a ${type}`;
}
