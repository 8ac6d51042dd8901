/** One-line messages for IndexedDB failures, naming the cause and what the user can do. */

/** An IndexedDB failure whose message is fit for the UI. */
export class StorageError extends Error {
  constructor(
    message: string,
    /** The DOMException name, such as "QuotaExceededError", or "Error" for others. */
    readonly reason: string,
  ) {
    super(message);
    this.name = 'StorageError';
  }
}

function errorName(error: unknown): string {
  return error instanceof Error || error instanceof DOMException ? error.name : 'Error';
}

function errorText(error: unknown): string {
  if (error instanceof Error || error instanceof DOMException) return error.message === '' ? error.name : error.message;
  return String(error);
}

/** Describes a failure to open the database: IndexedDB missing, refused (private windows) or newer elsewhere. */
export function describeOpenError(error: unknown): StorageError {
  const name = errorName(error);
  if (name === 'VersionError') {
    return new StorageError('Saved runs are unavailable: another tab of the lab uses a newer database version. Reload this tab.', name);
  }
  return new StorageError(
    `Saved runs are unavailable: the browser refused IndexedDB (${name}: ${errorText(error)}), as private windows may. ` +
      'Runs are not saved; export them as JSON to keep them.',
    name,
  );
}

/** Describes a failed read or write; `action` reads like "Saving the run". Failed writes change nothing already saved. */
export function describeStorageError(error: unknown, action: string): StorageError {
  if (error instanceof StorageError) return error;
  const name = errorName(error);
  if (name === 'QuotaExceededError') {
    return new StorageError(
      `${action} failed: the browser's storage quota for this site is full. Delete saved runs or export the run as JSON; the saved runs are unchanged.`,
      name,
    );
  }
  return new StorageError(`${action} failed (${name}: ${errorText(error)}); the saved runs are unchanged.`, name);
}
