import { loadModule, scanSync, parseSync } from 'libpg-query';
await loadModule();
const q = process.argv[2];
console.log(JSON.stringify(scanSync(q).tokens.map(t=>[t.start,t.end,t.text,t.tokenName,t.keywordName])));
console.log(JSON.stringify(parseSync(q)));
