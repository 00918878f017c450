// The least a check over one TCP connection does in Node, the floor the CLI benchmark
// (bench/comparisons/cli.mjs) sets probekit's tcp://, redis:// and http:// checks beside:
// connect; with no REQUEST, exit 0 once connected; otherwise send REQUEST (`\r\n` written as
// those four characters) and exit 0 when the answer begins with EXPECT. Exit 1 on an error,
// a closed connection or another answer. No node:http, no parser: what probekit's own
// sockets do (docs/cli.md, Start-up cost), without a line of its code.
// Usage: node net-floor.cjs HOST PORT [REQUEST EXPECT]
'use strict'
const [host, port, request, expect = ''] = process.argv.slice(2)
const socket = require('node:net').connect(Number(port), host, () => {
  if (request === undefined) process.exit(0)
  socket.write(request.replaceAll('\\r\\n', '\r\n'))
})
let answer = ''
socket.on('error', () => process.exit(1))
socket.on('close', () => process.exit(1))
socket.on('data', (chunk) => {
  answer += chunk.toString('latin1')
  if (answer.length >= expect.length) process.exit(answer.startsWith(expect) ? 0 : 1)
})
