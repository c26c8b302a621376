// Tells the operator, once per database, how keyed masks are computed there and whether the upstream
// role could read the masking key (a superuser), from the catalog snapshot's mask functions.
import type { MaskFunctions } from '../enforce/relation-catalog.ts';

export class MaskFunctionNotes {
  private readonly implementationLogged = new Set<string>();
  private readonly superuserWarned = new Set<string>();

  constructor(private readonly info: (message: string) => void) {}

  /** Notes what `maskFunctions` says of `database`, each note the first time only. */
  note(database: string, maskFunctions: MaskFunctions | undefined): void {
    if (maskFunctions?.implementation !== undefined && !this.implementationLogged.has(database)) {
      this.implementationLogged.add(database);
      this.info(
        `keyed masks in database "${database}" are computed by ${maskFunctions.implementation === 'c' ? 'the C extension gatehouse_mask' : 'PL/pgSQL (install the C extension gatehouse_mask to make them cheaper: docs/data-path.md, "Where the hash key lives")'}`,
      );
    }
    if (maskFunctions?.superuser === true && !this.superuserWarned.has(database)) {
      this.superuserWarned.add(database);
      this.info(
        `WARNING: Gatehouse's upstream role is a superuser in database "${database}": it could read the masking key, so masks rely on Gatehouse refusing every way to reach it; it could also replace any function, so writes under a mask that run a user trigger function, default or constraint are refused. Connect with a role that is not a superuser (docs/data-path.md, "Where the hash key lives").`,
      );
    }
  }
}
