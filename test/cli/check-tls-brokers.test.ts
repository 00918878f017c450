import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { makeTempDir } from '../support/server-process.js'
import { type MosquittoServer, startMosquitto } from '../support/servers/mosquitto.js'
import { type NatsServer, startNats } from '../support/servers/nats.js'
import { type RabbitServer, startRabbit } from '../support/servers/rabbitmq.js'
import { makeTestCertificates } from '../support/tls.js'
import { buildCli, cli } from './run-cli.js'

// `--ca` and `--insecure` reach every probe that speaks TLS, not only https:// and rediss://:
// brokers whose TLS listeners present a certificate from a private CA.
describe('probekit check --ca / --insecure against brokers with TLS listeners', () => {
  const certs = makeTestCertificates()
  let caFile: string
  let rabbit: RabbitServer
  let mosquitto: MosquittoServer
  let natsTls: NatsServer

  before(async () => {
    buildCli()
    caFile = join(makeTempDir('check-tls-ca'), 'ca.pem')
    writeFileSync(caFile, certs.ca)
    const tls = { key: certs.key, cert: certs.cert }
    ;[rabbit, mosquitto, natsTls] = await Promise.all([
      startRabbit({ tls }),
      startMosquitto({ user: 'app', password: 'mqtt-secret-pw', tls }),
      startNats({ tls }),
    ])
  })

  after(async () => {
    await Promise.all([rabbit?.stop(), mosquitto?.stop(), natsTls?.stop()])
  })

  const targets = () => ({
    amqps: `amqps://${rabbit.user}:${rabbit.password}@127.0.0.1:${rabbit.tlsPort}`,
    mqtts: `mqtts://app:mqtt-secret-pw@127.0.0.1:${mosquitto.tlsPort}`,
    // nats:// upgrades to TLS when the server's INFO requires it.
    nats: `nats://127.0.0.1:${natsTls.port}`,
  })

  for (const kind of ['amqps', 'mqtts', 'nats'] as const) {
    it(`${kind}: fails without the CA, passes with --ca FILE, and passes with --insecure`, async () => {
      const target = targets()[kind]
      const [untrusted, trusted, insecure] = await Promise.all([
        cli(['check', '--timeout', '10s', target]),
        cli(['check', '--timeout', '10s', '--ca', caFile, target]),
        cli(['check', '--timeout', '10s', '--insecure', target]),
      ])
      assert.equal(untrusted.code, 1, untrusted.stdout)
      assert.match(
        untrusted.stdout,
        /^failed .*not trusted .*; trust the \w+'s CA with --ca FILE, or pass --insecure\n$/,
      )
      assert.equal(trusted.code, 0, `--ca: ${trusted.stdout}${trusted.stderr}`)
      assert.match(trusted.stdout, /^ok /)
      assert.equal(insecure.code, 0, `--insecure: ${insecure.stdout}${insecure.stderr}`)
      for (const run of [untrusted, trusted, insecure]) {
        // Nothing on stderr: no Node warning about an IP address as the TLS server name either.
        assert.equal(run.stderr, '')
        assert.doesNotMatch(run.stdout, /mqtt-secret-pw/)
        assert.doesNotMatch(run.stdout, new RegExp(rabbit.password))
      }
    })
  }
})
