/**
 * What the graceful-shutdown helper needs to know about one HTTP(S) server: its open
 * connections and the requests in flight, so it can turn keep-alive off, stop listening and
 * wait for (or, at the deadline, destroy) what is left.
 */
import type { Server as HttpServer, ServerResponse } from 'node:http'
import type { Server as HttpsServer } from 'node:https'
import type { Socket } from 'node:net'
import { withDeadline } from '../core/deadline.js'

/** A node HTTP(S) server: what `http.createServer()`, `app.listen()` and `app.server` give. */
export type ShutdownServer = HttpServer | HttpsServer

/**
 * One server's connections and requests in flight. Tracking starts when the server is added,
 * so the helper should be created before the server takes traffic.
 */
export class ServerDrain {
  private readonly responses = new Set<ServerResponse>()
  private readonly sockets = new Set<Socket>()
  private closing = false
  private draining = false

  constructor(
    private readonly server: ShutdownServer,
    closing: boolean,
  ) {
    this.closing = closing
    // First in line, so `Connection: close` is set before the app can write its headers.
    server.prependListener('request', this.onRequest)
    server.on('connection', this.onConnection)
  }

  get inFlight(): number {
    return this.responses.size
  }

  detach(): void {
    this.server.off('request', this.onRequest)
    this.server.off('connection', this.onConnection)
  }

  /** From now on every response ends its connection: keep-alive clients reconnect elsewhere. */
  closeConnectionsAfterResponses(): void {
    this.closing = true
    for (const res of this.responses) this.endConnectionAfter(res)
  }

  /** Stops listening and waits for requests in flight; returns a note when it had to force. */
  async drain(timeoutMs: number): Promise<string | undefined> {
    this.closing = true
    this.draining = true
    const where = describe(this.server)
    const closed = new Promise<void>((resolve) => {
      // The callback fires once every connection is gone (or at once, with an error, if the
      // server was not listening).
      this.server.close(() => resolve())
    })
    // Node >= 19 does this inside close(); idle keep-alive sockets would otherwise hold it open.
    this.server.closeIdleConnections()
    try {
      await withDeadline(() => closed, { timeoutMs })
      return undefined
    } catch {
      const requests = this.responses.size
      const connections = this.sockets.size
      for (const socket of this.sockets) socket.destroy()
      this.server.closeAllConnections()
      await closed
      return `${requests} request(s) still in flight after ${timeoutMs} ms on ${where}; destroyed ${connections} connection(s)`
    }
  }

  private readonly onRequest = (_req: unknown, res: ServerResponse) => {
    this.responses.add(res)
    res.once('close', () => this.responses.delete(res))
    if (this.closing) this.endConnectionAfter(res)
  }

  private readonly onConnection = (socket: Socket) => {
    this.sockets.add(socket)
    socket.once('close', () => this.sockets.delete(socket))
  }

  private endConnectionAfter(res: ServerResponse): void {
    if (!res.headersSent) {
      res.shouldKeepAlive = false
      res.setHeader('connection', 'close')
      return
    }
    // Headers already went out with keep-alive: close the socket once it falls idle.
    // (Only while draining: closing idle sockets during the delay would race clients' next
    // requests into resets; the drain closes those that fell idle before it.)
    res.once('finish', () => {
      if (this.draining) setImmediate(() => this.server.closeIdleConnections())
    })
  }
}

function describe(server: ShutdownServer): string {
  const address = server.address()
  if (address && typeof address === 'object') return `port ${address.port}`
  return typeof address === 'string' ? address : 'a server'
}
