// The least a PostgreSQL health check written in Node does, the floor the CLI benchmark
// (bench/comparisons/cli.mjs) sets probekit's postgres:// check beside: for a user the
// server trusts, send the startup message, send `SELECT 1` once the server is ready for a
// query, and exit 0 when it has run; exit 1 on an error, a refusal or a request for a
// password. Usage: node pg-select.cjs HOST PORT USER DATABASE
'use strict'
const [host, port, user, database] = process.argv.slice(2)
const socket = require('node:net').connect(Number(port), host)
const startup = Buffer.from(`\0\0\0\0\0\x03\0\0user\0${user}\0database\0${database}\0\0`)
startup.writeInt32BE(startup.length)
socket.write(startup)
let pending = Buffer.alloc(0)
let asked = false
socket.on('error', () => process.exit(1))
socket.on('data', (chunk) => {
  pending = Buffer.concat([pending, chunk])
  while (pending.length >= 5 && pending.length > pending.readInt32BE(1)) {
    const type = String.fromCharCode(pending[0])
    if (type === 'E' || (type === 'R' && pending.readInt32BE(5) !== 0)) process.exit(1)
    if (type === 'Z' && asked) process.exit(0)
    if (type === 'Z') {
      asked = true
      socket.write('Q\0\0\0\rSELECT 1\0')
    }
    pending = pending.subarray(pending.readInt32BE(1) + 1)
  }
})
