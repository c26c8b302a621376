// Expands ${VAR} and ${VAR:-default} in every string value of a config document ($${ is a literal ${).

export type Env = Readonly<Record<string, string | undefined>>;

// $${ (escape), ${NAME}, ${NAME:-default}, or a stray ${ that is none of these.
const REFERENCE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{/g;

/** Expands one string; problems (unset variables, malformed references) are pushed as messages. */
export function expandString(value: string, env: Env, problems: string[]): string {
  return value.replace(REFERENCE, (match: string, name: string | undefined, fallback: string | undefined) => {
    if (match === '$${') return '${';
    if (name === undefined) {
      problems.push('malformed ${...} reference (use ${NAME} or ${NAME:-default}; write $${ for a literal ${)');
      return match;
    }
    // Shell semantics: ${NAME:-default} also replaces an empty value; ${NAME} keeps it.
    const value = env[name];
    if (fallback !== undefined) return value === undefined || value === '' ? fallback : value;
    if (value !== undefined) return value;
    problems.push(`environment variable ${name} is not set`);
    return match;
  });
}

/** Returns a copy of doc with every string expanded; each problem is reported as "path: message". */
export function expandEnv(doc: unknown, env: Env, problems: string[], path = ''): unknown {
  if (typeof doc === 'string') {
    const local: string[] = [];
    const expanded = expandString(doc, env, local);
    for (const p of local) problems.push(`${path === '' ? '(root)' : path}: ${p}`);
    return expanded;
  }
  if (Array.isArray(doc)) return doc.map((item, i) => expandEnv(item, env, problems, `${path}[${i}]`));
  if (doc !== null && typeof doc === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(doc)) {
      out[key] = expandEnv(value, env, problems, path === '' ? key : `${path}.${key}`);
    }
    return out;
  }
  return doc;
}
