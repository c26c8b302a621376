// Types of compile-bundle.js (plain JavaScript, so that the `gatehouse` executable can load it without tsx).

export interface CompiledBundle {
  /** The compiled entry module. */
  entry: URL;
  /** Removes the compiled files (once nothing will import them any more); done at process exit otherwise. */
  remove(): Promise<void>;
  removeSync(): void;
}

export function compileBundle(source: URL, options: { prefix: string; keepNames?: boolean }): Promise<CompiledBundle>;
