/** Spec versions and unstable features this server speaks (client-server-api "Client API versions"). */
import type { FastifyInstance } from 'fastify';
import { CBOR_ENUM_VERSION } from '../../http/low-bandwidth/cbor-keys.js';

/**
 * v1.1 through v1.12. The legacy body-matching push rules (removed in v1.17) are still served, as
 * these versions define them (accounts/push-rules-defaults.ts).
 */
const SUPPORTED_VERSIONS = Array.from({ length: 12 }, (_, i) => `v1.${i + 1}`);

/**
 * Only features whose answer is true of this server. The `io.element.e2ee_forced.*` flags tell
 * Element that encryption is not forced on new rooms of any kind.
 */
const UNSTABLE_FEATURES: Record<string, boolean> = {
  'm.lazy_load_members': true,
  'io.element.e2ee_forced.public': false,
  'io.element.e2ee_forced.private': false,
  'io.element.e2ee_forced.trusted_private': false,
};

/**
 * MSC3079 "Versioning", unstable prefix: the CBOR part only (bodies and answers in CBOR, the integer
 * key table). The other keys it defines (`dtls`, `coap_enum_version`, `observe`) are left out, which
 * says there is no CoAP, DTLS or OBSERVE here.
 */
const LOW_BANDWIDTH = { cbor_enum_version: CBOR_ENUM_VERSION };

export function registerVersionsRoutes(app: FastifyInstance): void {
  /** GET /_matrix/client/versions */
  app.get('/_matrix/client/versions', async () => ({
    versions: SUPPORTED_VERSIONS,
    unstable_features: UNSTABLE_FEATURES,
    'org.matrix.msc3079.low_bandwidth': LOW_BANDWIDTH,
  }));
}
