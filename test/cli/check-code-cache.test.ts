/**
 * `probekit check` keeps V8's bytecode for its bundle from one run to the next, in a private
 * directory under the temp directory (bin/probekit.js, docs/cli.md "Start-up"). Observed from
 * outside, on the Node line the suite runs on: the files it writes, whether a later run
 * rewrites them (it does when the entry was missing, damaged or refused by V8, and only
 * then), and that no state of that directory changes a verdict or fails a check. The CLI
 * runs from a copy of bin/ and dist/bin/, which other test files rebuilding dist/bin
 * meanwhile cannot change under it (an entry's name carries the bundle's modification time).
 */
import assert from 'node:assert/strict'
import { execFile, spawn, spawnSync } from 'node:child_process'
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { freePort, makeTempDir, waitFor } from '../support/server-process.js'
import { buildCli, type CliRun, ROOT } from './run-cli.js'

const uid = process.getuid?.() ?? 0

describe('probekit check code cache', () => {
  let server: Server
  let target: string
  let bin: string
  let bundles: string

  /** A copy of bin/ and dist/bin/ (an install of its own): its bin/probekit.js, and its bundles. */
  const install = (name: string) => {
    const pkg = makeTempDir(`code-cache-${name}`)
    const dist = join(pkg, 'dist/bin')
    mkdirSync(join(pkg, 'bin'))
    mkdirSync(dist, { recursive: true })
    for (const file of ['probekit.js', 'package.json']) copyFileSync(join(ROOT, 'bin', file), join(pkg, 'bin', file))
    for (const file of readdirSync(join(ROOT, 'dist/bin')).filter((f) => f.endsWith('.cjs'))) {
      copyFileSync(join(ROOT, 'dist/bin', file), join(dist, file))
    }
    return { bin: join(pkg, 'bin/probekit.js'), bundles: dist }
  }

  before(async () => {
    buildCli()
    ;({ bin, bundles } = install('pkg'))
    server = createServer((_req, res) => res.end('ok'))
    const port = await freePort()
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
    target = `http://127.0.0.1:${port}/livez`
  })

  after(() => new Promise<void>((resolve) => server.close(() => resolve())))

  /** A fresh temp directory for TMPDIR, and the cache directory probekit uses under it. */
  const place = (name: string) => {
    const tmp = makeTempDir(`code-cache-${name}`)
    return { tmp, dir: join(tmp, `probekit-code-cache-${uid}`) }
  }

  /** `probekit check …targets` from the copy, with TMPDIR set (and the cache on, unless `env` turns it off). */
  const cli = (tmp: string, targets: string[], env: NodeJS.ProcessEnv = {}, from = bin): Promise<CliRun> =>
    new Promise((resolve) => {
      const started = performance.now()
      const { NODE_DISABLE_COMPILE_CACHE: _, NODE_OPTIONS: __, ...inherited } = process.env
      const child = execFile(
        process.execPath,
        [from, 'check', ...targets],
        {
          env: { ...inherited, TMPDIR: tmp, ...env },
          timeout: 30_000,
          encoding: 'utf8',
        },
        (_error, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr, ms: performance.now() - started }),
      )
    })

  const check = async (tmp: string, env: NodeJS.ProcessEnv = {}, from = bin) => {
    const run = await cli(tmp, [target], env, from)
    assert.equal(run.code, 0, `${run.stdout}${run.stderr}`)
    assert.match(run.stdout, /^ok http:\/\/127\.0\.0\.1:\d+\/livez 200 OK in [\d.]+ ms\n$/)
    assert.equal(run.stderr, '')
    return run
  }

  /** The entry files in the cache directory: name, inode and modification time. */
  const entries = (dir: string) =>
    readdirSync(dir)
      .sort()
      .map((name) => {
        const stat = statSync(join(dir, name))
        return { name, ino: stat.ino, mtimeMs: stat.mtimeMs, size: stat.size }
      })

  it('writes two equal copies of the bundle entry in a private directory, and the next run uses them', async () => {
    const { tmp, dir } = place('first')
    await check(tmp)
    const stat = lstatSync(dir)
    assert.ok(stat.isDirectory())
    assert.equal(stat.mode & 0o777, 0o700)
    const written = entries(dir)
    assert.equal(written.length, 2, JSON.stringify(written))
    const [a, b] = written as [(typeof written)[0], (typeof written)[0]]
    assert.match(
      a.name,
      new RegExp(`^check-http-${process.version}-${process.arch}-[0-9a-f]{8}\\.[0-9a-f]{16}-\\d+-\\d+\\.a$`),
    )
    assert.equal(b.name, `${a.name.slice(0, -2)}.b`)
    assert.ok(a.size > 1000, `${a.size} bytes`)
    for (const name of [a.name, b.name]) assert.equal(statSync(join(dir, name)).mode & 0o777, 0o600)
    assert.deepEqual(readFileSync(join(dir, a.name)), readFileSync(join(dir, b.name)))
    // A run that found a usable entry writes nothing: the same files, untouched.
    await check(tmp)
    await check(tmp)
    assert.deepEqual(entries(dir), written)
  })

  it('compiles from source and writes the entry again when a copy is damaged, truncated or missing', async () => {
    const { tmp, dir } = place('damaged')
    await check(tmp)
    const [a, b] = readdirSync(dir).sort() as [string, string]
    const good = readFileSync(join(dir, a))
    /** The entry was written again: two equal copies, of a whole cache, not what was there. */
    const rewritten = (damaged: Buffer) => {
      const now = readFileSync(join(dir, a))
      assert.deepEqual(now, readFileSync(join(dir, b)))
      assert.ok(now.length > good.length / 2 && !now.equals(damaged), `${now.length} bytes`)
    }

    // One byte of the payload flipped in one copy: the copies differ, the entry is not used.
    const flipped = Buffer.from(good)
    const middle = Math.floor(flipped.length / 2)
    flipped[middle] = (flipped[middle] as number) ^ 0xff
    writeFileSync(join(dir, a), flipped)
    await check(tmp)
    rewritten(flipped)

    // Both copies cut to the same half: equal, so V8 itself refuses them (its length check).
    const half = Math.floor(readFileSync(join(dir, a)).length / 2)
    truncateSync(join(dir, a), half)
    truncateSync(join(dir, b), half)
    const cut = readFileSync(join(dir, a))
    await check(tmp)
    rewritten(cut)

    // Both copies empty, then one missing its content.
    writeFileSync(join(dir, a), '')
    writeFileSync(join(dir, b), '')
    await check(tmp)
    rewritten(Buffer.alloc(0))
    writeFileSync(join(dir, b), 'x')
    await check(tmp)
    rewritten(Buffer.from('x'))
  })

  it('keys the entry by the bundle: a changed bundle gets a new entry and the old one is removed', async () => {
    const { tmp, dir } = place('rebuilt')
    await check(tmp)
    const before = readdirSync(dir).sort()
    // Left behind by a run killed between writing and renaming.
    writeFileSync(join(dir, `${before[0]}.12345`), 'partial')
    // Another bundle's and another Node's entries are not this run's to remove.
    const other = `check-tcp-${process.version}-${process.arch}.0123456789abcdef-1-2.a`
    const otherNode = `check-http-v1.0.0-${process.arch}.0123456789abcdef-1-2.a`
    writeFileSync(join(dir, other), 'x')
    writeFileSync(join(dir, otherNode), 'x')
    // A bundle edited in place keeps its stamp; its modification time changes.
    const bundle = join(bundles, 'check-http.cjs')
    const { atime, mtime } = statSync(bundle)
    utimesSync(bundle, atime, new Date(mtime.getTime() + 5000))
    await check(tmp)
    const now = readdirSync(dir).sort()
    assert.equal(now.filter((name) => name.startsWith('check-http-v') && name !== otherNode).length, 2, now.join(' '))
    for (const name of before) assert.ok(!now.includes(name), `${name} was kept: ${now.join(' ')}`)
    assert.ok(!now.includes(`${before[0]}.12345`))
    assert.ok(now.includes(other) && now.includes(otherNode), now.join(' '))
  })

  it('leaves a directory it does not own alone: open to others, a symbolic link, another user’s', async () => {
    const open = place('open')
    mkdirSync(open.dir)
    chmodSync(open.dir, 0o777)
    await check(open.tmp)
    await check(open.tmp)
    assert.deepEqual(readdirSync(open.dir), [])

    const link = place('link')
    const elsewhere = join(link.tmp, 'elsewhere')
    mkdirSync(elsewhere, { mode: 0o700 })
    symlinkSync(elsewhere, link.dir)
    await check(link.tmp)
    assert.deepEqual(readdirSync(elsewhere), [])
    assert.ok(lstatSync(link.dir).isSymbolicLink())

    if (uid === 0) {
      // Root runs the suite here (CI); another user's directory is chown'ed to nobody.
      const theirs = place('theirs')
      mkdirSync(theirs.dir, { mode: 0o700 })
      chownSync(theirs.dir, 65534, 65534)
      await check(theirs.tmp)
      assert.deepEqual(readdirSync(theirs.dir), [])
    }
  })

  it('runs without a cache where none can be kept, or with NODE_DISABLE_COMPILE_CACHE=1', async () => {
    const off = place('off')
    await check(off.tmp, { NODE_DISABLE_COMPILE_CACHE: '1' })
    // Set at all, as Node reads it.
    await check(off.tmp, { NODE_DISABLE_COMPILE_CACHE: '' })
    assert.ok(!existsSync(off.dir))

    // TMPDIR names a file, and a directory that does not exist.
    const file = join(off.tmp, 'a-file')
    writeFileSync(file, '')
    await check(file)
    await check(join(off.tmp, 'missing', 'deeper'))
    assert.ok(!existsSync(join(off.tmp, 'missing')))

    if (uid === 0) {
      // A full disk (a 40 KB tmpfs; an entry is 80 KB): no half-written file stays behind.
      const full = place('full-disk')
      const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=40k', 'tmpfs', full.tmp], { encoding: 'utf8' })
      assert.equal(mounted.status, 0, `mount: ${mounted.stderr}`)
      try {
        await check(full.tmp)
        await check(full.tmp)
        assert.deepEqual(readdirSync(full.dir), [])
      } finally {
        spawnSync('umount', [full.tmp])
      }
    }
  })

  it('gives every run of many started at once its verdict, and the entry settles to two equal copies', async () => {
    const { tmp, dir } = place('crowd')
    await Promise.all(Array.from({ length: 8 }, () => check(tmp)))
    await check(tmp)
    const names = readdirSync(dir).sort()
    assert.equal(names.length, 2, names.join(' '))
    assert.deepEqual(readFileSync(join(dir, names[0] as string)), readFileSync(join(dir, names[1] as string)))
  })

  /** The entry files (`.a`, `.b`) in the directory, with their inode and mtime: a rewrite changes them. */
  const inodes = (dir: string) =>
    Object.fromEntries(
      readdirSync(dir)
        .filter((name) => name.endsWith('.a') || name.endsWith('.b'))
        .sort()
        .map((name) => {
          // The inode alone can come back: a file removed and written again may get it.
          const stat = statSync(join(dir, name), { bigint: true })
          return [name, `${stat.ino}:${stat.mtimeNs}`]
        }),
    )

  it('discards the entry after a run that used it died, and keeps it while that run lives', async () => {
    const { tmp, dir } = place('died')
    await check(tmp)
    const written = inodes(dir)
    const [entry] = Object.keys(written) as [string]
    // The slot: bundle, Node version, architecture and the install's hash.
    const slot = /^(.*-[0-9a-f]{8})\./.exec(entry)?.[1] as string
    assert.ok(slot?.startsWith(`check-http-${process.version}-`), entry)
    const mark = join(dir, `${slot}.run`)
    // A run still going (this test process) holds the mark: the entry is used, the mark kept.
    symlinkSync(String(process.pid), mark)
    await check(tmp)
    assert.deepEqual(inodes(dir), written)
    assert.equal(readlinkSync(mark), String(process.pid))
    // A run that died using the entry (its process is gone, its mark left): the entry is
    // discarded, and this run compiles from source and writes it again.
    rmSync(mark)
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' })
    symlinkSync(gone.stdout, mark)
    await check(tmp)
    const rewritten = inodes(dir)
    assert.deepEqual(Object.keys(rewritten), Object.keys(written))
    assert.notDeepEqual(rewritten, written)
    assert.ok(!existsSync(mark) && lstatSync(mark, { throwIfNoEntry: false }) === undefined)
    // A run that used the entry and passed leaves no mark, and the entry as it was.
    await check(tmp)
    assert.deepEqual(inodes(dir), rewritten)
    assert.equal(lstatSync(mark, { throwIfNoEntry: false }), undefined)
    // What is not a link to a process id counts as a dead run's mark, and goes.
    let last = inodes(dir)
    for (const make of [
      () => writeFileSync(mark, 'junk'),
      () => mkdirSync(join(mark, 'inside'), { recursive: true }),
      () => symlinkSync('0x1', mark),
      () => symlinkSync(' 1', mark),
      () => symlinkSync('99999999999', mark),
    ]) {
      make()
      await check(tmp)
      assert.notDeepEqual(inodes(dir), last)
      assert.equal(lstatSync(mark, { throwIfNoEntry: false }), undefined)
      last = inodes(dir)
    }
  })

  it("takes a zombie's mark, or one whose process id was reused since, for a dead run's", async () => {
    const { tmp, dir } = place('zombie')
    await check(tmp)
    const [entry] = Object.keys(inodes(dir)) as [string]
    const mark = join(dir, `${/^(.*-[0-9a-f]{8})\./.exec(entry)?.[1]}.run`)

    // A child that exits under a parent that never waits for it (sleep): a zombie.
    const parent = spawn('sh', ['-c', 'sh -c "echo \\$\\$" & exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] })
    try {
      const zombie = await new Promise<string>((resolve) =>
        parent.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())),
      )
      await waitFor(
        'the child to be a zombie',
        () => /\) Z /.test(readFileSync(`/proc/${zombie}/stat`, 'latin1')),
        5000,
      )
      let before = inodes(dir)
      symlinkSync(zombie, mark)
      await check(tmp)
      assert.notDeepEqual(inodes(dir), before)
      assert.equal(lstatSync(mark, { throwIfNoEntry: false }), undefined)

      // A live process (this sleep) that started after the mark was made: its id was reused.
      before = inodes(dir)
      symlinkSync(String(parent.pid), mark)
      const made = new Date(Date.now() - 60_000)
      lutimesSync(mark, made, made)
      await check(tmp)
      assert.notDeepEqual(inodes(dir), before)
      assert.equal(lstatSync(mark, { throwIfNoEntry: false }), undefined)
    } finally {
      parent.kill()
    }
  })

  it('reads a copy only as a regular file: a FIFO or a link to /dev/zero is not waited on, and is replaced', async () => {
    const { tmp, dir } = place('special')
    await check(tmp)
    const [a, b] = Object.keys(inodes(dir)) as [string, string]
    rmSync(join(dir, a))
    assert.equal(spawnSync('mkfifo', [join(dir, a)]).status, 0)
    await check(tmp)
    assert.ok(lstatSync(join(dir, a)).isFile())
    rmSync(join(dir, b))
    symlinkSync('/dev/zero', join(dir, b))
    await check(tmp)
    assert.ok(lstatSync(join(dir, b)).isFile())
    assert.deepEqual(readFileSync(join(dir, a)), readFileSync(join(dir, b)))
  })

  it('keeps an entry per install and per flags, so that neither evicts the other', async () => {
    const { tmp, dir } = place('installs')
    const other = install('other-install')
    const flags = { NODE_OPTIONS: '--max-semi-space-size=32' }
    await check(tmp)
    await check(tmp, {}, other.bin)
    await check(tmp, flags)
    const written = inodes(dir)
    assert.equal(Object.keys(written).length, 6, Object.keys(written).join(' '))
    for (let i = 0; i < 2; i++) {
      await check(tmp)
      await check(tmp, {}, other.bin)
      await check(tmp, flags)
    }
    assert.deepEqual(inodes(dir), written)
  })

  it('writes the entry of a failing run again at the first passing run, and drops one a failing run used', async () => {
    const { tmp, dir } = place('refresh')
    const refused = await cli(tmp, ['http://127.0.0.1:1/livez'])
    assert.equal(refused.code, 1)
    assert.match(refused.stdout, /^failed http:\/\/127\.0\.0\.1:1\/livez: connection refused/)
    const failed = Object.keys(inodes(dir))
    assert.equal(failed.length, 2)
    for (const name of failed) assert.match(name, /-f\.[ab]$/)
    await check(tmp)
    const passed = inodes(dir)
    assert.deepEqual(
      Object.keys(passed),
      failed.map((name) => name.replace('-f.', '.')),
    )
    await check(tmp)
    assert.deepEqual(inodes(dir), passed)
    // A run that used the entry and failed discards it (the failure might be the entry's):
    // the next run compiles from source, and a failing one writes a failing run's entry.
    assert.equal((await cli(tmp, ['http://127.0.0.1:1/livez'])).code, 1)
    assert.deepEqual(inodes(dir), {})
    assert.equal((await cli(tmp, ['http://127.0.0.1:1/livez'])).code, 1)
    assert.deepEqual(Object.keys(inodes(dir)), failed)
    await check(tmp)
    assert.deepEqual(Object.keys(inodes(dir)), Object.keys(passed))
  })

  it('compiles afresh and writes again an entry older than ten minutes', async () => {
    const { tmp, dir } = place('aged')
    await check(tmp)
    await check(tmp)
    const written = inodes(dir)
    const old = new Date(Date.now() - 11 * 60_000)
    for (const name of Object.keys(written)) utimesSync(join(dir, name), old, old)
    const aged = inodes(dir)
    await check(tmp)
    const now = inodes(dir)
    assert.deepEqual(Object.keys(now), Object.keys(written))
    for (const name of Object.keys(now)) assert.notEqual(now[name], aged[name], name)
    await check(tmp)
    assert.deepEqual(inodes(dir), now)
  })

  it(`keeps at most ${16} entries, the least recently written removed first`, async () => {
    const { tmp, dir } = place('bound')
    mkdirSync(dir, { mode: 0o700 })
    const old = new Date(Date.now() - 3600_000)
    for (let i = 0; i < 20; i++) {
      for (const copy of ['a', 'b']) {
        const file = join(dir, `check-tcp-v1.0.${i}-x64-00000000.0123456789abcdef-1-2.${copy}`)
        writeFileSync(file, 'x')
        const at = new Date(old.getTime() + i * 1000)
        utimesSync(file, at, at)
      }
    }
    await check(tmp)
    const names = readdirSync(dir)
    assert.equal(names.filter((name) => name.endsWith('.a')).length, 16, names.join(' '))
    assert.equal(names.filter((name) => name.endsWith('.b')).length, 16, names.join(' '))
    assert.ok(names.some((name) => name.startsWith('check-http-')))
    // The oldest five went: v1.0.0 to v1.0.4.
    for (let i = 0; i < 5; i++) assert.ok(!names.some((name) => name.includes(`v1.0.${i}-`)), `v1.0.${i} kept`)
  })

  it('leaves the full bundle, which imports drivers, to require(): no entry, same verdicts', async () => {
    const { tmp, dir } = place('full')
    for (let i = 0; i < 2; i++) {
      const run = await cli(tmp, [target, 'tcp://127.0.0.1:1', 'mysql://app:pw@127.0.0.1:1/shop'])
      assert.equal(run.code, 1)
      assert.match(
        run.stdout,
        /^ok http:.*\nfailed tcp:\/\/127\.0\.0\.1:1: connection refused.*\nfailed mysql:\/\/app:\*\*\*@127\.0\.0\.1:1\/shop: .*connection refused/,
      )
      assert.equal(run.stderr, '')
    }
    assert.ok(!existsSync(dir) || readdirSync(dir).length === 0)
  })
})
