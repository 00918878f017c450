/**
 * In a slim check bundle (dist/bin/check-http.cjs and its siblings, see
 * scripts/build-cli.mjs), the probe of every scheme the bundle leaves out. bin/probekit.js
 * picks a slim bundle only when every target's scheme is in it, so this is a safety net: a
 * target it did not foresee hands the whole run to the full bundle, check.cjs, which parses
 * the same arguments, runs every target and exits. Nothing has been connected or printed
 * yet (probes are built before any runs), and this run never goes on.
 */
export function elsewhere(): Promise<never> {
  require('./check.cjs')
  return new Promise<never>(() => {})
}

export {
  elsewhere as amqp,
  elsewhere as file,
  elsewhere as grpc,
  elsewhere as http,
  elsewhere as memcached,
  elsewhere as mqtt,
  elsewhere as mysql,
  elsewhere as nats,
  elsewhere as postgres,
  elsewhere as redis,
  elsewhere as tcp,
}
