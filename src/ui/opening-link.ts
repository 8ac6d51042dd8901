/**
 * The link the page opened with, parsed once. Importing this module also
 * rewrites the address bar to the link's canonical form, which drops every
 * rejected parameter.
 *
 * main.tsx imports it before anything else because tfjs, when it loads,
 * decodes location.search with decodeURIComponent to read its own flags and
 * throws URIError on a malformed query such as "?%%%" (seen with tfjs 4.22).
 * ES modules evaluate in import order, so the query is clean before any
 * module that imports tfjs runs.
 */
import { LESSONS } from './lessons/index.ts';
import { linkSearch, parseLink, type ParsedLink } from './url-spec.ts';

export const OPENING_LINK: ParsedLink = parseLink(window.location.search, LESSONS);

window.history.replaceState(
  window.history.state,
  '',
  `${window.location.pathname}${linkSearch(OPENING_LINK.spec, OPENING_LINK.page)}${window.location.hash}`,
);
