/**
 * Fault servers for probe tests: a port that answers garbage, a port that never
 * completes a connection (the case of a Kubernetes Service with no endpoints), and a TCP
 * proxy that can cut a client off from a real server (a partition).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { connect, createServer, type Server, Socket } from 'node:net'
import { freePort, sleep } from './server-process.js'

export interface FaultServer {
  host: string
  port: number
  /** e.g. `127.0.0.1:4567` */
  address: string
  close(): Promise<void>
}

/**
 * A TCP listener that answers every connection with `payload` (default: bytes no protocol
 * accepts) and keeps the connection open, so a client that waits for a proper reply must
 * rely on its own deadline or protocol error handling.
 */
export async function garbageServer(
  payload: string | Buffer = 'HTTP/9.9 garbage \x00\xff\xfe\r\n\r\n\x01\x02',
): Promise<FaultServer> {
  const sockets = new Set<Socket>()
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    socket.write(payload)
    socket.on('data', () => {
      if (!socket.destroyed) socket.write(payload)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return {
    host: '127.0.0.1',
    port,
    address: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}

/** A TCP proxy in front of a real server, which a test can cut (a partition) and restore. */
export interface TcpProxy extends FaultServer {
  /** Drops every connection through the proxy and refuses new ones until `restore()`. */
  cut(): void
  restore(): void
  /** Connections the proxy has accepted so far (cut ones included). */
  readonly accepted: number
}

/**
 * Forwards every connection on a free loopback port to `targetPort`: a client given the
 * proxy's address can be cut off from the server while everyone else still reaches it.
 */
export async function tcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const sockets = new Set<Socket>()
  let cut = false
  let accepted = 0
  const server: Server = createServer((client) => {
    accepted++
    client.on('error', () => {})
    if (cut) {
      client.destroy()
      return
    }
    const upstream = connect(targetPort, targetHost)
    sockets.add(client)
    sockets.add(upstream)
    const end = () => {
      client.destroy()
      upstream.destroy()
      sockets.delete(client)
      sockets.delete(upstream)
    }
    upstream.on('error', end).on('close', end)
    client.on('close', end)
    client.pipe(upstream)
    upstream.pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return {
    host: '127.0.0.1',
    port,
    address: `127.0.0.1:${port}`,
    cut: () => {
      cut = true
      for (const s of sockets) s.destroy()
    },
    restore: () => {
      cut = false
    },
    get accepted() {
      return accepted
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}

/**
 * A port where TCP connections never complete: a listener in a child process with an
 * accept backlog of 1, frozen with SIGSTOP, its queue filled by a few held connections.
 * Further SYNs are dropped by the kernel, so a client's connect hangs until its own
 * connect timeout — exactly like a Service IP with no endpoints.
 */
export async function blackholeServer(): Promise<FaultServer> {
  const port = await freePort()
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '-e',
      `require('net').createServer(()=>{}).listen({port:${port},host:'127.0.0.1',backlog:1},()=>process.stdout.write('up'))`,
    ],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  )
  await new Promise<void>((resolve, reject) => {
    child.stdout?.once('data', () => resolve())
    child.once('exit', (code) => reject(new Error(`blackhole listener exited with ${code}`)))
  })
  if (child.pid) process.kill(child.pid, 'SIGSTOP')
  // Fill the accept queue (backlog 1 admits a couple of connections) so later connects hang.
  const fillers: Socket[] = []
  for (let i = 0; i < 4; i++) {
    const socket = new Socket()
    socket.on('error', () => {})
    socket.connect(port, '127.0.0.1')
    fillers.push(socket)
    await sleep(30)
  }
  const killChild = () => {
    try {
      if (child.pid) {
        process.kill(child.pid, 'SIGCONT')
        process.kill(child.pid, 'SIGKILL')
      }
    } catch {}
  }
  process.once('exit', killChild)
  return {
    host: '127.0.0.1',
    port,
    address: `127.0.0.1:${port}`,
    close: async () => {
      for (const s of fillers) s.destroy()
      killChild()
      process.off('exit', killChild)
    },
  }
}

/** Active handles and requests of this process, for leak checks (count before and after). */
export function activeResources(): { count: number; byType: Record<string, number> } {
  const byType: Record<string, number> = {}
  const list = process.getActiveResourcesInfo()
  for (const type of list) byType[type] = (byType[type] ?? 0) + 1
  return { count: list.length, byType }
}
