/**
 * 5c. Scale-out: three `probekit monitor` replicas on one etcd share a fleet of HTTP
 * targets (30,000 in the full run) served by a private nginx. Measured from nginx's access
 * log: each replica's share and drift in steady state, targets checked twice (by two
 * replicas), and — after one replica is killed with SIGKILL — the longest time any of its
 * targets went unchecked before another replica took it over.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { etcdBinary, startEtcd } from '../support/etcd.mjs'
import { driftOf, hitsByTarget } from '../support/hits.mjs'
import { nginxBinary, startNginx } from '../support/nginx.mjs'
import { canConnect, freePort, makeTempDir, sleep, startProcess } from '../support/proc.mjs'
import { fmt } from '../support/stats.mjs'
import { fleetManifest, monitorNodeArgs } from './monitor-50k.mjs'

export const id = 'scale-out'
export const title = 'Scale-out: three monitor replicas on one etcd'

const INTERVAL_MS = 5000
const LEASE_TTL_S = 10
const REPLICAS = ['mon-a', 'mon-b', 'mon-c']
const NODE = 'bench'

export async function run(ctx) {
  // PROBEKIT_BENCH_SCALE_TARGETS=6000 runs a smaller fleet (a loaded or small machine).
  const targets = Number(process.env.PROBEKIT_BENCH_SCALE_TARGETS ?? (ctx.quick ? 3000 : 30_000))
  const warmupMs = 3 * INTERVAL_MS
  const steadyMs = ctx.quick ? 10_000 : 20_000
  const afterKillMs = LEASE_TTL_S * 1000 + 3 * INTERVAL_MS
  const missing = [
    ...(nginxBinary()
      ? []
      : [{ name: 'nginx', reason: 'nginx is not installed (Debian package nginx-light or nginx)' }]),
    ...(etcdBinary() ? [] : [{ name: 'etcd', reason: 'etcd is not installed (Debian package etcd-server)' }]),
  ]
  if (missing.length) return { id, title, headline: 'not measured', unavailable: missing }
  const { rendezvousOwner } = await import(join(ctx.root, 'dist', 'monitor', 'replicas.js'))
  const dir = makeTempDir('scale-out')
  const nginx = await startNginx({ workers: 2, connections: 20_000 })
  const etcd = await startEtcd()
  const monitors = new Map()
  let capacity
  let steady
  let failover
  try {
    capacity = await nginx.capacity()
    ctx.log(`scale-out: nginx serves ${fmt(capacity.keepAlive)} requests/s (keep-alive)`)
    const manifestFile = join(dir, 'targets.yaml')
    writeFileSync(
      manifestFile,
      fleetManifest(targets, (i) => nginx.url(`/t/${i}`)),
    )
    // Which replica owns each target, as every replica computes it (rendezvous hashing).
    const ownerOf = new Map()
    for (let i = 0; i < targets; i++) {
      const checkId = `${NODE}/bench-pod-${Math.floor(i / 100)}/t${i}`
      ownerOf.set(`/t/${i}`, rendezvousOwner(checkId, REPLICAS))
    }
    const cli = join(ctx.root, 'bin', 'probekit.js')
    await Promise.all(
      REPLICAS.map(async (replica) => {
        const apiPort = await freePort()
        const p = await startProcess(
          `monitor ${replica}`,
          process.execPath,
          [
            ...monitorNodeArgs(),
            cli,
            'monitor',
            '--store',
            etcd.storeSpec('bench'),
            '--replica-id',
            replica,
            '--lease-ttl',
            `${LEASE_TTL_S}s`,
            '--node',
            NODE,
            '--listen',
            `127.0.0.1:${apiPort}`,
            '--quiet',
            '--no-watch',
            manifestFile,
          ],
          { cwd: dir, ready: () => canConnect(apiPort), readyTimeoutMs: 180_000 },
        )
        monitors.set(replica, p)
      }),
    )
    await sleep(warmupMs)

    // Steady state: every replica up.
    await nginx.resetLog()
    const from = Date.now()
    await sleep(steadyMs)
    const to = Date.now()
    const log = await nginx.readLog()
    const byUri = hitsByTarget(log, from, to)
    steady = { replicas: [], seconds: (to - from) / 1000 }
    for (const replica of REPLICAS) {
      const mine = new Map([...byUri].filter(([uri]) => ownerOf.get(uri) === replica))
      let hits = 0
      for (const list of mine.values()) hits += list.length
      const owned = [...ownerOf.values()].filter((o) => o === replica).length
      steady.replicas.push({
        replica,
        owned,
        seen: mine.size,
        checksPerSecond: hits / steady.seconds,
        ...driftOf(mine, INTERVAL_MS),
      })
    }
    const all = driftOf(byUri, INTERVAL_MS)
    steady.doubleHits = all.doubleHits
    steady.doubleTargets = all.doubleTargets
    steady.targetsSeen = byUri.size
    let hits = 0
    for (const list of byUri.values()) hits += list.length
    steady.checksPerSecond = hits / steady.seconds
    ctx.log(
      `scale-out: steady: ${fmt(steady.checksPerSecond)} checks/s of ${fmt(targets / (INTERVAL_MS / 1000))}, ${fmt(steady.doubleTargets)} targets checked twice`,
    )

    // Failover: SIGKILL the last replica; its targets wait for its lease to expire.
    const victim = REPLICAS[REPLICAS.length - 1]
    await nginx.resetLog()
    const logFrom = Date.now()
    await sleep(INTERVAL_MS + 1000)
    const killedAt = Date.now()
    monitors.get(victim).child.kill('SIGKILL')
    await monitors.get(victim).exited
    monitors.delete(victim)
    await sleep(afterKillMs)
    const end = Date.now()
    const after = hitsByTarget(await nginx.readLog(), logFrom, end)
    let longestMs = 0
    let notTaken = 0
    const gaps = []
    // When the survivors ran the victim's targets first, after the kill (the earliest 1% left
    // out: requests the victim sent just before it died are logged after).
    const takenAt = []
    for (const [uri, owner] of ownerOf) {
      if (owner !== victim) continue
      const list = after.get(uri) ?? []
      const before = list.filter((t) => t <= killedAt)
      const next = list.find((t) => t > killedAt)
      const last = before.length ? before[before.length - 1] : logFrom
      if (next === undefined) {
        notTaken++
        continue
      }
      gaps.push(next - last)
      if (next - last > longestMs) longestMs = next - last
      takenAt.push(next - killedAt)
    }
    gaps.sort((a, b) => a - b)
    takenAt.sort((a, b) => a - b)
    // After the takeover (a lease TTL and an interval after the kill): targets checked twice.
    const settledFrom = killedAt + LEASE_TTL_S * 1000 + 2 * INTERVAL_MS
    const late = hitsByTarget(await nginx.readLog(), settledFrom, end)
    const lateDrift = driftOf(late, INTERVAL_MS)
    failover = {
      victim,
      victimTargets: [...ownerOf.values()].filter((o) => o === victim).length,
      longestUncheckedMs: longestMs,
      p50UncheckedMs: gaps.length ? gaps[Math.floor(gaps.length / 2)] : Number.NaN,
      notTakenOver: notTaken,
      takenOverFromMs: takenAt.length ? takenAt[Math.floor(takenAt.length / 100)] : Number.NaN,
      takenOverToMs: takenAt.length ? takenAt[takenAt.length - 1] : Number.NaN,
      doubleTargetsAfter: lateDrift.doubleTargets,
      goalMs: LEASE_TTL_S * 1000 + INTERVAL_MS,
    }
    ctx.log(
      `scale-out: ${victim} killed: its ${fmt(failover.victimTargets)} targets went unchecked at most ${fmt(longestMs)} ms (goal ≤ ${fmt(failover.goalMs)} ms); first runs on the survivors (p1–max) ${fmt(failover.takenOverFromMs)}–${fmt(failover.takenOverToMs)} ms after the kill; ${fmt(notTaken)} not taken over within ${fmt(afterKillMs / 1000)} s`,
    )
  } finally {
    await Promise.all([...monitors.values()].map((m) => m.stop()))
    await etcd.stop()
    await nginx.stop()
  }
  const due = targets / (INTERVAL_MS / 1000)
  return {
    id,
    title,
    headline: `${fmt(targets)} targets on ${REPLICAS.length} replicas: ${fmt(steady.checksPerSecond)} checks/s of ${fmt(due)} due, ${fmt(steady.doubleTargets)} targets checked twice in steady state, drift p99 ${steady.replicas.map((r) => fmt(r.p99Ms)).join('/')} ms; after SIGKILL of one replica its targets went unchecked at most ${fmt(failover.longestUncheckedMs / 1000, 1)} s (goal ≤ ${fmt(failover.goalMs / 1000)} s = lease TTL + one interval), ${fmt(failover.notTakenOver)} not taken over`,
    method: `${fmt(targets)} HTTP targets (\`/t/<n>\`, one private nginx, keep-alive) every ${INTERVAL_MS / 1000} s, shared by ${REPLICAS.length} \`probekit monitor\` replicas (not pinned: ${REPLICAS.length} replicas, nginx and etcd share the machine) on one private etcd, \`--lease-ttl ${LEASE_TTL_S}s\` (probekit holds its etcd lease 2 s shorter, for etcd's sweep of expired leases and the takeover: see docs/etcd.md). After a warm-up of ${warmupMs / 1000} s, nginx's access log is read over ${steadyMs / 1000} s of steady state: each replica's share (owner of each target computed with the replicas' own rendezvous hash), checks/s and drift; a target hit twice within half an interval counts as checked twice. Then ${REPLICAS.at(-1)} is killed with SIGKILL, and for each of its targets the time from its last hit before the kill to its first hit after is measured over ${afterKillMs / 1000} s.`,
    table: {
      columns: [
        'replica',
        'targets owned',
        'targets seen',
        'checks/s',
        'drift p50 ms',
        'drift p99 ms',
        'drift max ms',
        'checked twice',
      ],
      rows: steady.replicas.map((r) => [
        r.replica,
        fmt(r.owned),
        fmt(r.seen),
        fmt(r.checksPerSecond),
        fmt(r.p50Ms),
        fmt(r.p99Ms),
        fmt(r.maxMs),
        fmt(r.doubleTargets),
      ]),
    },
    notes: [
      `Capacity of nginx measured just before (wrk, 64 connections): ${fmt(capacity?.keepAlive)} requests/s with keep-alive, ${fmt(capacity?.newConnections)}/s with a new connection each; ${fmt(due)} checks/s are due.`,
      `Failover: ${failover.victim} (${fmt(failover.victimTargets)} targets) killed with SIGKILL; longest time one of its targets went unchecked ${fmt(failover.longestUncheckedMs)} ms, median ${fmt(failover.p50UncheckedMs)} ms (goal ≤ ${fmt(failover.goalMs)} ms: lease TTL ${LEASE_TTL_S} s + one interval); the survivors first ran its targets from ${fmt(failover.takenOverFromMs)} (p1) to ${fmt(failover.takenOverToMs)} ms after the kill (the lease runs out a lease TTL after the victim's last keep-alive, which it sends every third of a TTL); ${fmt(failover.notTakenOver)} targets not taken over within ${fmt(afterKillMs / 1000)} s; ${fmt(failover.doubleTargetsAfter)} targets checked twice once the two survivors had taken over.`,
      ...(process.env.PROBEKIT_BENCH_SCALE_TARGETS
        ? [`Run with PROBEKIT_BENCH_SCALE_TARGETS=${targets} (a smaller fleet than the full run's 30,000).`]
        : []),
    ],
    reproduce: [
      `npm run build && npm run bench -- --only=scale-out${ctx.quick ? ' --quick' : ''}`,
      `node bin/probekit.js monitor --store etcd://127.0.0.1:PORT/bench --replica-id mon-a --lease-ttl ${LEASE_TTL_S}s --node ${NODE} --listen 127.0.0.1:PORT --quiet --no-watch targets.yaml   # ×3`,
    ],
    data: { targets, intervalMs: INTERVAL_MS, leaseTtlS: LEASE_TTL_S, capacity, steady, failover },
  }
}
