/**
 * The order in which the worker tries tfjs backends, and the reason recorded
 * for each one it skips. The browser-specific attempts live in backend.ts;
 * this part has no browser dependency, so it is tested in Node.
 */
import { BACKEND_ORDER, type BackendName, type BackendReport, type InitOptions } from './protocol.ts';

/** The outcome of trying to start one backend. */
export type BackendAttempt = { ok: true; adapter?: string; software?: boolean } | { ok: false; reason: string };

export type AttemptBackend = (backend: BackendName) => Promise<BackendAttempt>;

/** The backend options of init. */
export type BackendOptions = Pick<InitOptions, 'exclude' | 'simulateFailure' | 'exclusionReasons' | 'allowSoftware'>;

/**
 * Tries the backends in BACKEND_ORDER and returns the first that starts,
 * with a one-line reason for each one skipped before it: excluded, simulated
 * failure, or the attempt's own reason (an exception counts as "threw ...").
 * Throws an Error listing every reason when none starts.
 */
export async function selectBackend(options: BackendOptions, attempt: AttemptBackend): Promise<BackendReport> {
  const skipped: BackendReport['skipped'] = [];

  for (const backend of BACKEND_ORDER) {
    if (options.exclude.includes(backend)) {
      skipped.push({ backend, reason: options.exclusionReasons?.[backend] ?? 'excluded by the client' });
      continue;
    }
    if (options.simulateFailure.includes(backend)) {
      skipped.push({ backend, reason: 'simulated failure' });
      continue;
    }

    let result: BackendAttempt;
    try {
      result = await attempt(backend);
    } catch (error) {
      result = { ok: false, reason: `threw ${firstLine(error)}` };
    }
    if (result.ok) {
      const report: BackendReport = { backend, skipped };
      if (result.adapter !== undefined) report.adapter = result.adapter;
      if (result.software !== undefined) report.software = result.software;
      return report;
    }
    skipped.push({ backend, reason: result.reason });
  }

  throw new Error(`no tfjs backend started: ${skipped.map(({ backend, reason }) => `${backend}: ${reason}`).join('; ')}`);
}

/** Returns the backends that come before `preferred` in BACKEND_ORDER; none when no backend is preferred. */
export function backendsBefore(preferred: BackendName | undefined): BackendName[] {
  if (preferred === undefined) return [];
  return BACKEND_ORDER.slice(0, BACKEND_ORDER.indexOf(preferred));
}

/** Returns whether a GPU description names a software renderer: a WebGPU fallback adapter, SwiftShader or llvmpipe. */
export function isSoftwareRenderer(description: string): boolean {
  return /fallback adapter|swiftshader|llvmpipe|software/i.test(description);
}

/** Returns the reason to skip a GPU backend on a software renderer, or null to use it. */
export function softwareSkipReason(backend: BackendName, description: string, allowSoftware: boolean): string | null {
  if (allowSoftware || !isSoftwareRenderer(description)) return null;
  return `software renderer ${description}, slower here than WASM; open the link with backend=${backend} to use it anyway`;
}

/** Returns the first line of an error's message, or of its string form. */
export function firstLine(error: unknown): string {
  const text = error instanceof Error ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}` : String(error);
  return text.split('\n')[0] ?? '';
}
