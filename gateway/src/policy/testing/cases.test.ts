import { describe, expect, it } from 'vitest';
import { parseCaseFile } from './cases.ts';

const HEAD = 'version: 1\ncases:\n';

describe('parseCaseFile', () => {
  it('loads cases with their line, defaults and statement form', () => {
    const loaded = parseCaseFile(
      `${HEAD}  - name: one\n    identity: { subject: a, groups: [agents] }\n    sql: SELECT 1\n    expect: { decision: allow }\n` +
        `  # a comment\n  - name: two\n    identity: { subject: b }\n    engines: [cedar]\n    input: { kind: listen }\n    expect:\n      decision: deny\n      policies: [default-deny]\n`,
      'policy-tests/x.yaml',
    );
    expect(loaded.problems).toEqual([]);
    expect(loaded.cases.map((c) => [c.name, c.line, c.engines])).toEqual([
      ['one', 3, ['rego', 'cedar']],
      ['two', 8, ['cedar']],
    ]);
    expect(loaded.cases[0]!.statement).toEqual({ type: 'sql', sql: 'SELECT 1', protocol: 'simple', searchPath: ['public'] });
    expect(loaded.cases[1]!.statement).toEqual({ type: 'input', statement: { kind: 'listen' } });
    expect(loaded.cases[1]!.file).toBe('policy-tests/x.yaml');
  });

  it('names the file, case and line of each schema problem, and skips the file', () => {
    const loaded = parseCaseFile(
      `${HEAD}  - name: fine\n    identity: { subject: a }\n    sql: SELECT 1\n    expect: { decision: allow }\n` +
        `  - name: both forms\n    identity: { subject: a }\n    sql: SELECT 1\n    input: { kind: select }\n    expect: { decision: allow }\n` +
        `  - name: typo\n    identity: { subject: a, group: [x] }\n    sql: SELECT 1\n    expect: { decision: perhaps }\n` +
        `  - name: protocol without sql\n    identity: { subject: a }\n    input: { kind: select, colour: red }\n    protocol: extended\n    expect: { decision: allow }\n`,
      'f.yaml',
    );
    expect(loaded.cases).toEqual([]);
    const seen = loaded.problems.map((p) => `${p.caseName}@${p.line}: ${p.message}`);
    expect(seen).toEqual(
      expect.arrayContaining([
        'both forms@7: cases[1]: a case needs exactly one of sql or input',
        'typo@13: cases[2].identity.group: unknown key',
        'typo@15: cases[2].expect.decision: must be one of allow, mask, approve, deny',
        'protocol without sql@16: cases[3]: protocol is only allowed with sql',
        'protocol without sql@18: cases[3].input: colour is not a statement field of the policy input',
      ]),
    );
    for (const p of loaded.problems) expect(p.file).toBe('f.yaml');
  });

  it('reports YAML syntax errors, a wrong version, and duplicate case names', () => {
    const syntax = parseCaseFile('version: 1\ncases:\n  - name: [unclosed\n', 'a.yaml');
    expect(syntax.problems[0]).toMatchObject({ file: 'a.yaml', message: expect.stringMatching(/^YAML: /) });
    expect(syntax.problems[0]?.line).toBeGreaterThan(0);

    expect(parseCaseFile('version: 2\ncases: []\n', 'b.yaml').problems).toEqual([{ file: 'b.yaml', line: 1, message: 'version: must be 1' }]);
    expect(parseCaseFile('', 'c.yaml').problems[0]?.message).toContain('must be object');

    const dup = parseCaseFile(
      `${HEAD}  - name: same\n    identity: { subject: a }\n    sql: SELECT 1\n    expect: { decision: allow }\n  - name: same\n    identity: { subject: a }\n    sql: SELECT 2\n    expect: { decision: allow }\n`,
      'd.yaml',
    );
    expect(dup.cases.map((c) => c.name)).toEqual(['same']);
    expect(dup.problems).toEqual([{ file: 'd.yaml', line: 7, caseName: 'same', message: 'case name "same" is used twice in d.yaml' }]);
  });
});
