// Preloaded (node --import) into every doc example the doc tests run: a server that
// listens on a port the example names (9000, 3000, …) listens on the free port the test
// chose for it instead, so examples keep the ports a reader expects and tests on a shared
// machine never collide. DOCTEST_PORTS is a JSON object { "9000": 41234, … }.
import net from 'node:net'

const ports = JSON.parse(process.env.DOCTEST_PORTS || '{}')
const mapped = (port) => {
  const real = ports[String(port)]
  return real === undefined ? port : real
}
const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  const first = args[0]
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) args[0] = mapped(first)
  else if (first && typeof first === 'object' && !Array.isArray(first) && first.port !== undefined) {
    args[0] = { ...first, port: mapped(first.port) }
  }
  return listen.apply(this, args)
}
