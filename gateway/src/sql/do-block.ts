// An anonymous code block (`DO`) around PL/pgSQL text Gatehouse writes itself, dollar-quoted with a tag
// that does not occur in the text (a quoted relation or function name inside it may hold any characters).

/** `DO $tag$body$tag$`, the tag `base`, or `base` + a number when the body holds `$base$`. */
export function doBlock(body: string, base: string): string {
  let tag = base;
  for (let i = 0; body.includes(`$${tag}$`); i++) tag = `${base}${i}`;
  return `DO $${tag}$${body}$${tag}$`;
}
