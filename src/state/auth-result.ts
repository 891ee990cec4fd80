/** The verdict of the authorisation rules: allowed, or rejected with the reason (for logs). */
export type AuthResult = { allowed: true } | { allowed: false; reason: string };

const ALLOWED: AuthResult = Object.freeze({ allowed: true });

export function allow(): AuthResult {
  return ALLOWED;
}

export function reject(reason: string): AuthResult {
  return { allowed: false, reason };
}
