/** One thing an argument may name: its id and the names it answers to. */
export interface Candidate {
  readonly id: string;
  readonly names: readonly string[];
  /** How it is listed when a name is ambiguous. */
  readonly label: string;
}

export class LookupError extends Error {
  override readonly name = 'LookupError';
}

/** The shortest id prefix accepted (like git's abbreviated hashes, kept long enough to rarely collide). */
export const MIN_PREFIX = 4;

/**
 * The id `query` names among `candidates`: the full id, a name, or a unique id
 * prefix of at least four characters, in that order. Ambiguity and no match
 * are errors that list the candidates or say what was searched.
 */
export function pick(kind: string, query: string, candidates: readonly Candidate[]): string {
  const exact = candidates.find((c) => c.id === query);
  if (exact !== undefined) return exact.id;
  const byName = candidates.filter((c) => c.names.includes(query));
  if (byName.length === 1) return byName[0]!.id;
  if (byName.length > 1) throw ambiguous(kind, query, byName);
  const needle = query.toLowerCase();
  if (needle.length >= MIN_PREFIX) {
    const byPrefix = candidates.filter((c) => c.id.toLowerCase().startsWith(needle));
    if (byPrefix.length === 1) return byPrefix[0]!.id;
    if (byPrefix.length > 1) throw ambiguous(kind, query, byPrefix);
  }
  const how = candidates.some((c) => c.names.length > 0)
    ? `by id, name or id prefix (≥ ${MIN_PREFIX} characters)`
    : `by id or id prefix (≥ ${MIN_PREFIX} characters)`;
  return fail(`no ${kind} matches "${query}" (searched ${candidates.length} ${kind}${candidates.length === 1 ? '' : 's'} ${how})`);
}

function ambiguous(kind: string, query: string, matches: readonly Candidate[]): LookupError {
  const shown = matches.slice(0, 10).map((m) => `  ${m.label}`);
  const more = matches.length > 10 ? [`  … and ${matches.length - 10} more`] : [];
  return new LookupError([`"${query}" matches ${matches.length} ${kind}s; use more of the id:`, ...shown, ...more].join('\n'));
}

function fail(message: string): never {
  throw new LookupError(message);
}

/** Ids the API uses: a full one is taken as is (no listing call); anything else must be looked up. */
export const FULL_ID = {
  uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
  sha256: /^[0-9a-f]{64}$/i,
} as const;
