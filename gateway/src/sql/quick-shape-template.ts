// The last quick shape (sql/quick-shape.ts) whose replaced literals were all unsigned integers, kept as
// the text around them, so that the next text that differs only in those integers (pgbench's
// `... WHERE aid = 12345;` again with another number) gets the very same shape string back without the
// scan, and the shape cache's Map finds it by the hash the string already has.
//
// Sound because the scan decides nothing differently for such a text: between the integers the text is
// character for character the one scanned; an integer (digits only, no `.`) was followed there by what
// was not a digit, a name character or `.` (else it would not have been read as one such literal), and
// is again, and its last character is a digit as before, so every check that looks one character behind
// or ahead sees the same class of character; the scan's state after a literal does not depend on its
// value. A text of another form (a decimal, a string, anything else changed) is scanned.

import { QUICK_SHAPE_MAX_LENGTH } from './quick-shape.ts';

export class QuickShapeTemplate {
  /** The texts between the replaced integers (one more than the integers), or null: none kept. */
  private around: string[] | null = null;
  private shape = '';

  /** The shape kept, when `text` is the kept text with other unsigned integers in place of the replaced ones; else null. */
  match(text: string): string | null {
    const around = this.around;
    if (around === null || text.length > QUICK_SHAPE_MAX_LENGTH || !startsWithAt(text, around[0]!, 0)) return null;
    let at = around[0]!.length;
    for (let k = 1; k < around.length; k++) {
      const start = at;
      while (at < text.length && isDigit(text.charCodeAt(at))) at++;
      if (at === start) return null;
      const next = around[k]!;
      if (!startsWithAt(text, next, at)) return null;
      at += next.length;
    }
    return at === text.length ? this.shape : null;
  }

  /**
   * Keeps `shape`, the quick shape of `text` whose replaced literals are at `spans` (start and end of
   * each, in order), when every one of them is an unsigned integer; otherwise keeps nothing.
   */
  learn(text: string, shape: string, spans: readonly number[]): void {
    const around: string[] = [];
    let from = 0;
    for (let i = 0; i < spans.length; i += 2) {
      const start = spans[i]!;
      const end = spans[i + 1]!;
      if (end <= start) return this.forget();
      for (let j = start; j < end; j++) if (!isDigit(text.charCodeAt(j))) return this.forget();
      around.push(text.slice(from, start));
      from = end;
    }
    if (around.length === 0) return this.forget();
    around.push(text.slice(from));
    this.around = around;
    this.shape = shape;
  }

  forget(): void {
    this.around = null;
    this.shape = '';
  }
}

/**
 * text.startsWith(part, at), as one comparison of two strings: on Node 20, startsWith with a part that is
 * not a constant compares it a character at a time (about 150 ns for the 50 characters before pgbench's
 * literal), a slice and === as a block (about 40 ns).
 */
function startsWithAt(text: string, part: string, at: number): boolean {
  return text.length - at >= part.length && text.slice(at, at + part.length) === part;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
