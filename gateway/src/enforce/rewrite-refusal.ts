// Why a statement under a mask cannot run, as the mask rewrite and the routine checks it calls report it.

/**
 * Shown to the client as 0A000, or as 42501 for a write that reads masked columns of its own
 * target (`code`).
 */
export interface RewriteRefusal {
  message: string;
  hint: string;
  code?: 'MASKED_COLUMN_READ';
}
