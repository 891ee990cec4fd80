/**
 * TURN credentials (client-server "Voice over IP", GET /voip/turnServer) in the TURN REST API form
 * coturn's `use-auth-secret` checks: the username is `<expiry unix seconds>:<user id>`, the password
 * base64(HMAC-SHA1(shared secret, username)). Nothing is stored: the TURN server verifies the HMAC.
 */
import { createHmac } from 'node:crypto';

export interface TurnConfig {
  uris: string[];
  sharedSecret: string;
  userLifetimeSeconds: number;
}

export interface TurnCredentials {
  username: string;
  password: string;
  uris: string[];
  /** Seconds the credentials stay valid. */
  ttl: number;
}

export function turnCredentials(config: TurnConfig, userId: string, nowMs: number): TurnCredentials {
  const expiry = Math.floor(nowMs / 1000) + config.userLifetimeSeconds;
  const username = `${expiry}:${userId}`;
  const password = createHmac('sha1', config.sharedSecret).update(username).digest('base64');
  return { username, password, uris: config.uris, ttl: config.userLifetimeSeconds };
}
