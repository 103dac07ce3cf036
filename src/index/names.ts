/**
 * Project names: PEP 503 normalization and the PEP 508 validity rule. Pure string functions;
 * deciding what to do with an invalid name (refuse, drop) is the caller's business.
 */

const SEPARATOR_RUNS = /[-_.]+/g

// PEP 508 "Names": ASCII letters and digits at both ends, `.`, `_` and `-` inside.
const VALID_PROJECT_NAME = /^(?:[A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$/i

/** PEP 503: `re.sub(r"[-_.]+", "-", name).lower()`. */
export function normalizeName(name: string): string {
  return name.replace(SEPARATOR_RUNS, '-').toLowerCase()
}

/** PEP 508 name rule; used to refuse names that could not have come from a real index. */
export function isValidProjectName(name: string): boolean {
  return VALID_PROJECT_NAME.test(name)
}
