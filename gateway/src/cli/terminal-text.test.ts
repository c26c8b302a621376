import { describe, expect, it } from 'vitest';
import { terminalText } from './terminal-text.ts';

describe('terminalText', () => {
  it('shows escape sequences, carriage returns, C1 controls and bidi overrides as escapes', () => {
    const shown = terminalText('DELETE /*\u001b[2K\r\u009b1A\u202e\u2066*/ x');
    expect(shown).toBe('DELETE /*\\u001b[2K\\u000d\\u009b1A\\u202e\\u2066*/ x');
    expect(shown).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
  });

  it('keeps tabs, newlines and ordinary text, non-ASCII letters included', () => {
    expect(terminalText('SELECT\t1\nFROM t -- é ü 日本')).toBe('SELECT\t1\nFROM t -- é ü 日本');
  });
});
