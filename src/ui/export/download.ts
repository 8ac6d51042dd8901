/** File names of exports and the browser download of a Blob. */

/** Returns a file-name-safe UTC time, such as "2026-12-04T10-30-05Z". */
export function fileTimestamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z').replaceAll(':', '-');
}

/** Returns a name such as "ntk-lab-spectrum-2026-12-04T10-30-05Z.svg". */
export function exportFileName(subject: string, extension: string, date = new Date()): string {
  return `ntk-lab-${subject}-${fileTimestamp(date)}.${extension}`;
}

/** Saves a Blob through a temporary link with a download attribute. */
export function downloadBlob(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  link.style.display = 'none';
  document.body.appendChild(link);
  link.click();
  link.remove();
  // The browser has read the URL once click() returns, but some need a turn of the event loop.
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
