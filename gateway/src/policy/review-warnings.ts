// Warnings about what a policy's `reviewed` list vouches for, given where policies are checked: the
// policy tests (`gatehouse policy test`), gated activation of a commit, and a directory loaded at start.
// Listing the built-in suppress_redundant_updates_trigger as reviewed reopens red-team round 17a's
// R17a-1: it skips an UPDATE that changes nothing, so the row count tells whether an assigned guess of a
// masked column is the stored value. Not refused: on tables without masked columns it is harmless.

import type { PolicyFile, PolicyLanguage } from './policy-files.ts';

export interface PolicyWarning {
  /** The file, relative to the policy directory. */
  file: string;
  /** 1-based. */
  line: number;
  message: string;
}

/** Built-in trigger functions whose effect tells a stored value (enforce/trigger-review.ts REVEALING_BUILT_INS). */
const REVEALING: ReadonlyArray<{ name: string; why: string }> = [
  {
    name: 'suppress_redundant_updates_trigger',
    why: 'it skips an UPDATE that changes nothing, so under a mask the row count (UPDATE 0 or 1) tells whether a value assigned to a masked column is the one stored (red-team round 17a, R17a-1). List it only if no table where it fires has a column masked for anyone; Gatehouse refuses such writes under a mask while it is not listed',
  },
];

/** The lines of `files` (comments left out) that name a revealing built-in trigger function. */
export function reviewWarnings(files: readonly PolicyFile[], language: PolicyLanguage): PolicyWarning[] {
  const out: PolicyWarning[] = [];
  for (const f of files) {
    const lines = f.content.split('\n');
    lines.forEach((text, i) => {
      const code = withoutComment(text, language);
      for (const r of REVEALING) {
        if (!code.includes(r.name)) continue;
        out.push({ file: f.path, line: i + 1, message: `the policy names ${r.name} (as reviewed?): ${r.why}` });
      }
    });
  }
  return out;
}

/** The line up to a comment (`#` in Rego, `//` in Cedar) outside a string. */
function withoutComment(line: string, language: PolicyLanguage): string {
  let inString = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
    } else if (language === 'rego' ? c === '#' : c === '/' && line[i + 1] === '/') {
      return line.slice(0, i);
    }
  }
  return line;
}

/** "file:line: message" */
export function warningText(w: PolicyWarning): string {
  return `${w.file}:${w.line}: ${w.message}`;
}
