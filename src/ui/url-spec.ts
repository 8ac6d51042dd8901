/**
 * The permalink: the page URL contains the whole experiment spec and the page
 * state, so a copied link reopens the lab as it was.
 *
 * A link reads `?v=1&lambda=0.1&steps=100&presentation=1&lesson=lambda-linear`:
 * the link version `v`, then one readable key=value pair per spec field that
 * differs from its default (in schema order), then the page parameters.
 * Rejected parameters fall back to their defaults and are listed, so a bad
 * link still opens the lab.
 */
import { DEFAULT_SPEC, SPEC_KEYS, formatSpecStrings, isSpecKey, parseSpecStrings, validateSpec, type ExperimentSpec, type SpecKey } from '../core/spec.ts';
import { BACKEND_ORDER, type BackendName } from '../worker/protocol.ts';

/**
 * The link version this lab writes and reads. Raise it when a field's meaning,
 * unit or default changes, so that older links can be read as they were meant.
 */
export const LINK_VERSION = 1;

/** Query parameters that control the page rather than the experiment. */
export const PAGE_PARAMS = ['v', 'presentation', 'lesson', 'lessonStep', 'backend', 'failBackend'] as const;

/** The lesson fields that the link parser reads. */
export interface LinkLesson {
  id: string;
  /** The lesson's prepared experiment, applied over the defaults. */
  spec: Partial<ExperimentSpec>;
  steps: readonly unknown[];
}

/** The page state that a link carries besides the spec. */
export interface LinkPage {
  presentation: boolean;
  /** The open lesson's id, or null when none is open. */
  lesson: string | null;
  /** The open lesson's step, counted from 0. */
  lessonStep: number;
  /**
   * The backend the link requests: the worker skips the ones before it in
   * the backend order, so the same link runs on the same backend. Null keeps
   * the order, fastest first.
   */
  backend: BackendName | null;
  /** The worker client's failBackend test parameter, passed on unchanged; null when absent. */
  failBackend: string | null;
}

/** One rejected query parameter. */
export interface LinkProblem {
  /** The parameter name as given, quoted as JSON when it is empty or has unusual characters. */
  field: string;
  /** The problem and the value the lab uses instead, to be read after "<field>: ". */
  message: string;
}

export interface ParsedLink {
  spec: ExperimentSpec;
  page: LinkPage;
  rejected: LinkProblem[];
}

const MAX_SHOWN_CHARS = 40;

function truncate(text: string): string {
  const chars = Array.from(text);
  return chars.length <= MAX_SHOWN_CHARS ? text : `${chars.slice(0, MAX_SHOWN_CHARS - 1).join('')}…`;
}

/** Shows a parameter name as is when it is plain, else as JSON, so it cannot bring in control characters. */
function showKey(key: string): string {
  return /^[A-Za-z0-9_.-]{1,40}$/.test(key) ? key : truncate(JSON.stringify(key));
}

/** Shows a parameter value in a message: as JSON, cut to 40 characters. */
function showRawValue(value: string): string {
  return truncate(JSON.stringify(value));
}

/** Lowercases and drops separators, so "lora_alpha" and "LORA-ALPHA" match loraAlpha. */
function simplifyKey(key: string): string {
  return key.toLowerCase().replace(/[^a-z0-9]/g, '');
}

function describeUnknownKey(key: string): string {
  const known = [...SPEC_KEYS, ...PAGE_PARAMS];
  const suggestion = known.find((name) => simplifyKey(name) === simplifyKey(key));
  return suggestion === undefined ? 'unknown setting, ignored' : `unknown setting (did you mean ${suggestion}?), ignored`;
}

/**
 * Reads the link version. A missing `v` means version 1, the first version,
 * which had no `v`. Any other value than an integer from 1 to LINK_VERSION is
 * rejected, and the link's fields are then still read as the current version
 * where they are valid: a newer lab may have changed what a field means, so
 * the message tells the reader to check them.
 */
function readVersion(raw: string | null): LinkProblem | null {
  if (raw === null) return null;
  const readAs = `the settings were read as version ${LINK_VERSION} where valid, so check them`;
  if (!/^\d{1,9}$/.test(raw)) {
    return { field: 'v', message: `got ${showRawValue(raw)}, expected a link version from 1 to ${LINK_VERSION}; ${readAs}` };
  }
  const version = Number(raw);
  if (version > LINK_VERSION) {
    return {
      field: 'v',
      message: `got ${version}, but this lab reads link versions up to ${LINK_VERSION} (a newer lab made this link); ${readAs}`,
    };
  }
  if (version < 1) {
    return { field: 'v', message: `got ${version}, expected a link version from 1 to ${LINK_VERSION}; ${readAs}` };
  }
  return null;
}

function readPresentation(raw: string | null, rejected: LinkProblem[]): boolean {
  if (raw === null) return false;
  if (raw === '1' || raw === 'true') return true;
  if (raw === '0' || raw === 'false') return false;
  rejected.push({ field: 'presentation', message: `got ${showRawValue(raw)}, expected 1 or 0; presentation mode stays off` });
  return false;
}

function readBackend(raw: string | null, rejected: LinkProblem[]): BackendName | null {
  if (raw === null) return null;
  const backend = BACKEND_ORDER.find((name) => name === raw);
  if (backend === undefined) {
    rejected.push({ field: 'backend', message: `got ${showRawValue(raw)}, expected one of ${BACKEND_ORDER.join(', ')}; the fastest backend that starts is used` });
    return null;
  }
  return backend;
}

function readLesson(raw: string | null, lessons: readonly LinkLesson[], rejected: LinkProblem[]): LinkLesson | null {
  if (raw === null) return null;
  const lesson = lessons.find((candidate) => candidate.id === raw);
  if (lesson === undefined) {
    const ids = lessons.map((candidate) => candidate.id).join(', ');
    rejected.push({ field: 'lesson', message: `got ${showRawValue(raw)}, expected one of ${ids}; no lesson is opened` });
    return null;
  }
  return lesson;
}

/** Reads the 1-based `lessonStep` parameter and returns the 0-based step. */
function readLessonStep(raw: string | null, lesson: LinkLesson | null, rejected: LinkProblem[]): number {
  if (raw === null) return 0;
  if (lesson === null) {
    rejected.push({ field: 'lessonStep', message: `got ${showRawValue(raw)} without a valid lesson, ignored` });
    return 0;
  }
  const count = lesson.steps.length;
  const step = /^\d{1,9}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(step >= 1 && step <= count)) {
    rejected.push({ field: 'lessonStep', message: `got ${showRawValue(raw)}, expected a step from 1 to ${count}; the lesson opens at step 1` });
    return 0;
  }
  return step - 1;
}

/**
 * Parses a query string into a spec and page state. Every parameter is
 * checked on its own, so one bad value never discards the good ones:
 *
 * - Spec fields are parsed by the schema in SPEC_FIELDS. An invalid,
 *   out-of-range or repeated field keeps its default and is rejected.
 * - Unknown parameters are rejected and ignored.
 * - `lesson` opens a lesson. A link without `v` is taken as written by hand:
 *   the lesson's prepared experiment fills the fields that it does not name.
 *   A link with `v`, as the lab writes it, names every field that differs
 *   from the defaults, so its spec is the defaults plus its fields.
 */
export function parseLink(search: string, lessons: readonly LinkLesson[] = []): ParsedLink {
  const params = new URLSearchParams(search);
  const rejected: LinkProblem[] = [];

  // Count each name first, so a repeated parameter is rejected once as a whole.
  const values = new Map<string, string[]>();
  for (const [key, value] of params) values.set(key, [...(values.get(key) ?? []), value]);
  const single = (key: string, fallback: string): string | null => {
    const given = values.get(key);
    if (given === undefined) return null;
    if (given.length > 1) {
      rejected.push({ field: showKey(key), message: `given ${given.length} times, expected once; ${fallback}` });
      return null;
    }
    return given[0] as string;
  };

  const versionProblem = readVersion(single('v', `the settings were read as version ${LINK_VERSION}`));
  if (versionProblem !== null) rejected.push(versionProblem);

  const presentation = readPresentation(single('presentation', 'presentation mode stays off'), rejected);
  const lesson = readLesson(single('lesson', 'no lesson is opened'), lessons, rejected);
  const lessonStep = readLessonStep(single('lessonStep', 'the lesson opens at step 1'), lesson, rejected);
  const backend = readBackend(single('backend', 'the fastest backend that starts is used'), rejected);
  const failBackend = single('failBackend', 'no backend failure is simulated');

  const base: ExperimentSpec = lesson !== null && !values.has('v') ? { ...DEFAULT_SPEC, ...lesson.spec } : { ...DEFAULT_SPEC };
  const fields: Partial<Record<SpecKey, ExperimentSpec[SpecKey]>> = {};
  for (const key of values.keys()) {
    if ((PAGE_PARAMS as readonly string[]).includes(key)) continue;
    if (!isSpecKey(key)) {
      rejected.push({ field: showKey(key), message: describeUnknownKey(key) });
      continue;
    }
    const source = base[key] === DEFAULT_SPEC[key] ? 'the default' : "the lesson's value";
    const fallback = `${source} ${JSON.stringify(String(base[key]))} is used`;
    const raw = single(key, fallback);
    if (raw === null) continue;

    const result = parseSpecStrings({ [key]: raw });
    if (result.ok) {
      fields[key] = result.spec[key];
      continue;
    }
    for (const issue of result.errors) rejected.push({ field: key, message: `${issue.message}; ${fallback}` });
  }

  // Fields valid alone are valid together today; keep the base spec if that ever changes.
  const combined = validateSpec({ ...base, ...fields });
  const spec = combined.ok ? combined.spec : base;
  if (!combined.ok) {
    for (const issue of combined.errors) rejected.push({ field: issue.field, message: `${issue.message}; every setting keeps its default` });
  }

  return { spec, page: { presentation, lesson: lesson?.id ?? null, lessonStep, backend, failBackend }, rejected };
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

/**
 * Returns the query string of a permalink: `v` first, then the spec fields
 * that differ from the defaults in schema order, then the page state.
 * Page parameters at their defaults (presentation off, no lesson, step 1) are left out.
 */
export function linkSearch(spec: ExperimentSpec, page: LinkPage): string {
  const params = new URLSearchParams({ v: String(LINK_VERSION) });
  const fields = new URLSearchParams(searchFromSpec(spec));
  for (const [key, value] of fields) params.append(key, value);

  if (page.presentation) params.set('presentation', '1');
  if (page.lesson !== null) {
    params.set('lesson', page.lesson);
    if (page.lessonStep > 0) params.set('lessonStep', String(page.lessonStep + 1));
  }
  if (page.backend !== null) params.set('backend', page.backend);
  if (page.failBackend !== null) params.set('failBackend', page.failBackend);
  return `?${params.toString()}`;
}
