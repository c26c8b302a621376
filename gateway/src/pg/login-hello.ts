// The messages that end a client's login: AuthenticationOk, the upstream session's ParameterStatus
// values, the client's own BackendKeyData and ReadyForQuery. The part before the keys is kept for
// the next login while the parameters are the same (pooled logins mostly get the same values).

import { authenticationOk, backendKeyData, parameterStatus, readyForQuery } from '../wire/backend.ts';

export class LoginHello {
  private parameters: [string, string][] = [];
  private head: Buffer | null = null;

  encode(parameters: ReadonlyMap<string, string>, processId: number, secretKey: Buffer): Buffer {
    if (this.head === null || !this.same(parameters)) {
      this.parameters = [...parameters];
      this.head = Buffer.concat([authenticationOk(), ...this.parameters.map(([name, value]) => parameterStatus(name, value))]);
    }
    return Buffer.concat([this.head, backendKeyData(processId, secretKey), readyForQuery('I')]);
  }

  /** Same names and values, in the same order (the order they are sent in). */
  private same(parameters: ReadonlyMap<string, string>): boolean {
    if (parameters.size !== this.parameters.length) return false;
    let i = 0;
    for (const [name, value] of parameters) {
      const kept = this.parameters[i++]!;
      if (kept[0] !== name || kept[1] !== value) return false;
    }
    return true;
  }
}
