// The MD5 password response PostgreSQL expects: "md5" + md5(md5(password + user) + salt), hex.

import { createHash } from 'node:crypto';

export function md5PasswordResponse(user: string, password: string, salt: Buffer): string {
  const inner = createHash('md5').update(password, 'utf8').update(user, 'utf8').digest('hex');
  return 'md5' + createHash('md5').update(inner, 'utf8').update(salt).digest('hex');
}
