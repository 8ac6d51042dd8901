/**
 * The experiment spec in the page URL: readable key=value pairs, one per
 * spec field that differs from its default. Rejected fields fall back to
 * their defaults and are listed, so a bad link still opens the lab.
 */
import { DEFAULT_SPEC, formatSpecIssue, formatSpecStrings, isSpecKey, parseSpecStrings, type ExperimentSpec, type SpecKey } from '../core/spec.ts';

/** Query parameters that control the page rather than the experiment. */
export const PAGE_PARAMS = ['failBackend', 'presentation', 'lesson', 'v'] as const;

export interface UrlSpec {
  spec: ExperimentSpec;
  /** One line per rejected parameter, such as `lr: got -1, expected a number > 0 and <= 10`. */
  rejected: string[];
}

/** Parses the spec fields of a query string; unknown keys and invalid values are rejected one by one. */
export function specFromSearch(search: string): UrlSpec {
  const params = new URLSearchParams(search);
  const pairs: Record<string, string> = Object.create(null) as Record<string, string>;
  const rejected: string[] = [];

  for (const [key, value] of params) {
    if ((PAGE_PARAMS as readonly string[]).includes(key)) continue;
    if (!isSpecKey(key)) {
      rejected.push(`${key}: unknown setting, ignored`);
      continue;
    }
    pairs[key] = value;
  }

  // Validate field by field, so one bad value never discards the good ones.
  const accepted: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const key of Object.keys(pairs)) {
    const result = parseSpecStrings({ [key]: pairs[key] as string });
    if (result.ok) accepted[key] = pairs[key] as string;
    else rejected.push(...result.errors.map((issue) => `${formatSpecIssue(issue)}; the default is used`));
  }

  const result = parseSpecStrings(accepted);
  if (!result.ok) {
    // Fields valid alone are valid together today; keep the defaults if that ever changes.
    rejected.push(...result.errors.map(formatSpecIssue));
    return { spec: { ...DEFAULT_SPEC }, rejected };
  }
  return { spec: result.spec, rejected };
}

/** Returns the query string for a spec: only the fields that differ from the defaults, in schema order. */
export function searchFromSpec(spec: ExperimentSpec, page: Readonly<Record<string, string>> = {}): string {
  const params = new URLSearchParams();
  const strings = formatSpecStrings(spec);
  const defaults = formatSpecStrings(DEFAULT_SPEC);
  for (const key of Object.keys(strings) as SpecKey[]) {
    if (strings[key] !== defaults[key]) params.set(key, strings[key]);
  }
  for (const [key, value] of Object.entries(page)) params.set(key, value);
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}
