/* Shell wildcard patterns (fnmatch(3) without FNM_PATHNAME or FNM_PERIOD), for key restrictions. */
#ifndef FERRY_MATCH_H
#define FERRY_MATCH_H

/* Flags for match_glob. */
#define MATCH_CASEFOLD 1u /* ASCII letters match either case (FNM_CASEFOLD) */

/*
 * 1 if all of SUBJECT matches PATTERN, else 0. The language is POSIX
 * fnmatch(3) with no flags (docs/keys.md, "Patterns"):
 *   *        any string, empty included ('/' and a leading '.' too)
 *   ?        any one character
 *   [SET]    one character of SET: single characters, ranges a-z (by byte
 *            value), classes [:alpha:] [:digit:] [:alnum:] [:upper:]
 *            [:lower:] [:xdigit:] [:space:] [:blank:] [:punct:] [:print:]
 *            [:graph:] [:cntrl:] (ASCII), collating elements [.c.] and
 *            equivalence classes [=c=] of one character; [!SET] or [^SET]
 *            negates; ']' first in SET and '-' first or last are literal
 *   \c       the character c itself
 * A '[' that does not open a complete bracket expression matches itself.
 * A bracket expression with an unknown class or a multi-character [.xy.]
 * matches nothing. Bytes are compared as they are (no locale: UTF-8 is
 * matched byte by byte). MATCH_CASEFOLD folds ASCII letters of both sides
 * to lower case before comparing, ranges included ([A-F] then also matches
 * 'c'). Both strings must be NUL-terminated; time is O(len(PATTERN) *
 * len(SUBJECT)), no recursion, no allocation.
 */
int match_glob(const char *pattern, const char *subject, unsigned flags);

#endif
