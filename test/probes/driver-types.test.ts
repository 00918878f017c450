/**
 * The probes take the drivers' own clients, typed by structural `…Like` interfaces. A
 * reader's project may compile with the strictest settings, `exactOptionalPropertyTypes`
 * among them (`@tsconfig/strictest` sets it): there an optional property of ours that the
 * driver types as `string | undefined` refuses the driver's client, and the README's quick
 * start does not compile. This compiles each supported client against the published
 * declarations (dist/, `npm run build` first), as a reader's project would.
 */
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { docProject, typecheckDir } from '../docs/run-block.js'

const CLIENTS = `
import { createHealth } from 'probekit'
import { amqp, memcached, migrations, mqtt, mysql, nats, postgres, redis, sqlite } from 'probekit/probes'
import { watchBullmqWorker } from 'probekit/worker'
import { addHealthService } from 'probekit/grpc'
import * as grpc from '@grpc/grpc-js'
import amqplib from 'amqplib'
import Database from 'better-sqlite3'
import { Worker } from 'bullmq'
import { Cluster, Redis } from 'ioredis'
import knex from 'knex'
import memjs from 'memjs'
import mqttjs from 'mqtt'
import mysql2callback from 'mysql2'
import mysql2 from 'mysql2/promise'
import { connect } from 'nats'
import pg from 'pg'
import postgresJs from 'postgres'
import { createClient, createCluster } from 'redis'

export async function wire(): Promise<void> {
  const health = createHealth()
  health.add(postgres(new pg.Pool()))
  health.add(postgres(new pg.Client(), { name: 'pg-client' }))
  health.add(postgres(postgresJs('postgres://app@db/app'), { name: 'postgres-js' }))
  health.add(redis(new Redis()))
  health.add(redis(new Cluster([{ host: 'cache', port: 6379 }]), { name: 'ioredis-cluster' }))
  health.add(redis(createClient(), { name: 'node-redis' }))
  health.add(redis(createCluster({ rootNodes: [{ url: 'redis://cache:6379' }] }), { name: 'node-redis-cluster' }))
  health.add(mysql(mysql2.createPool('mysql://app@db/app')))
  health.add(mysql(await mysql2.createConnection('mysql://app@db/app'), { name: 'mysql-connection' }))
  health.add(mysql(mysql2callback.createPool('mysql://app@db/app'), { name: 'mysql-callback' }))
  health.add(sqlite(new Database(':memory:')))
  health.add(memcached(memjs.Client.create('localhost:11211')))
  health.add(amqp(await amqplib.connect('amqp://localhost')))
  health.add(nats(await connect({ servers: 'localhost:4222' })))
  health.add(mqtt(mqttjs.connect('mqtt://localhost')))
  health.add(migrations(knex({ client: 'pg' })))
  watchBullmqWorker(new Worker('emails', async () => {}, { connection: { host: 'localhost' } }))
  addHealthService(new grpc.Server(), health)
}
`

describe("the drivers' own clients", () => {
  it('are accepted by the probes under strict and exactOptionalPropertyTypes', () => {
    const dir = join(docProject(), 'driver-types')
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'clients.ts'), CLIENTS)
    const tsc = typecheckDir(dir, {
      module: 'nodenext',
      moduleResolution: 'nodenext',
      exactOptionalPropertyTypes: true,
      noUncheckedIndexedAccess: true,
      skipLibCheck: true,
    })
    assert.equal(tsc.status, 0, tsc.output)
  })
})
