/**
 * The wire format of `grpc.health.v1.Health`: its three messages in protobuf, the gRPC
 * message framing and the status codes it uses. The messages are tiny and fixed, so they
 * are written here rather than loaded from a .proto at run time: the server needs no
 * proto loader and the CLI's client stays cheap to start.
 */

export const HEALTH_SERVICE = 'grpc.health.v1.Health'
export const CHECK_PATH = `/${HEALTH_SERVICE}/Check`
export const WATCH_PATH = `/${HEALTH_SERVICE}/Watch`
export const LIST_PATH = `/${HEALTH_SERVICE}/List`

/** `HealthCheckResponse.ServingStatus`. */
export const ServingStatus = { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } as const
export type ServingStatusName = keyof typeof ServingStatus
const STATUS_NAMES: readonly ServingStatusName[] = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN']

/** The gRPC status codes (https://grpc.github.io/grpc/core/md_doc_statuscodes.html). */
export const GrpcCode = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const
const CODE_NAMES = Object.fromEntries(Object.entries(GrpcCode).map(([name, code]) => [code, name])) as Record<
  number,
  string
>

/** `DEADLINE_EXCEEDED` for 4; the number itself for a code outside the table. */
export function grpcCodeName(code: number): string {
  return CODE_NAMES[code] ?? String(code)
}

export function servingStatusName(value: number): ServingStatusName | `status ${number}` {
  return STATUS_NAMES[value] ?? `status ${value}`
}

/** A protobuf message was cut short or is not the message it should be. */
export class ProtocolError extends Error {
  override name = 'ProtocolError'
}

/** `HealthCheckRequest { string service = 1; }` */
export function encodeCheckRequest(service: string): Buffer {
  if (service === '') return Buffer.alloc(0)
  const bytes = Buffer.from(service, 'utf8')
  return Buffer.concat([Buffer.from([0x0a]), varint(bytes.length), bytes])
}

export function decodeCheckRequest(message: Uint8Array): { service: string } {
  let service = ''
  readFields(message, (field, wireType, value) => {
    if (field === 1 && wireType === 2) service = Buffer.from(value as Uint8Array).toString('utf8')
  })
  return { service }
}

/** `HealthCheckResponse { ServingStatus status = 1; }` */
export function encodeCheckResponse(status: number): Buffer {
  return status === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x08]), varint(status)])
}

export function decodeCheckResponse(message: Uint8Array): { status: number } {
  let status = 0
  readFields(message, (field, wireType, value) => {
    if (field === 1 && wireType === 0) status = value as number
  })
  return { status }
}

/** `HealthListResponse { map<string, HealthCheckResponse> statuses = 1; }` */
export function encodeListResponse(statuses: ReadonlyMap<string, number>): Buffer {
  const parts: Buffer[] = []
  for (const [service, status] of statuses) {
    const key = Buffer.from(service, 'utf8')
    const value = encodeCheckResponse(status)
    const entry = Buffer.concat([
      Buffer.from([0x0a]),
      varint(key.length),
      key,
      Buffer.from([0x12]),
      varint(value.length),
      value,
    ])
    parts.push(Buffer.from([0x0a]), varint(entry.length), entry)
  }
  return Buffer.concat(parts)
}

export function decodeListResponse(message: Uint8Array): Map<string, number> {
  const statuses = new Map<string, number>()
  readFields(message, (field, wireType, value) => {
    if (field !== 1 || wireType !== 2) return
    let key = ''
    let status = 0
    readFields(value as Uint8Array, (f, w, v) => {
      if (f === 1 && w === 2) key = Buffer.from(v as Uint8Array).toString('utf8')
      else if (f === 2 && w === 2) status = decodeCheckResponse(v as Uint8Array).status
    })
    statuses.set(key, status)
  })
  return statuses
}

/** One gRPC length-prefixed message: a compression flag (0), a 4-byte length, the message. */
export function frame(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length)
  out[0] = 0
  out.writeUInt32BE(message.length, 1)
  out.set(message, 5)
  return out
}

function varint(value: number): Buffer {
  const bytes: number[] = []
  let rest = value >>> 0
  while (rest > 0x7f) {
    bytes.push((rest & 0x7f) | 0x80)
    rest >>>= 7
  }
  bytes.push(rest)
  return Buffer.from(bytes)
}

type FieldVisitor = (field: number, wireType: number, value: number | Uint8Array) => void

/** Walks a message's fields, skipping those it does not know (as protobuf requires). */
function readFields(message: Uint8Array, visit: FieldVisitor): void {
  let at = 0
  const readVarint = (): number => {
    let result = 0
    let shift = 0
    for (;;) {
      if (at >= message.length) throw new ProtocolError('a protobuf varint is cut short')
      const byte = message[at++] as number
      if (shift < 32) result += (byte & 0x7f) * 2 ** shift
      if ((byte & 0x80) === 0) return result
      shift += 7
      if (shift > 63) throw new ProtocolError('a protobuf varint is too long')
    }
  }
  while (at < message.length) {
    const key = readVarint()
    const field = Math.floor(key / 8)
    const wireType = key & 7
    if (wireType === 0) visit(field, wireType, readVarint())
    else if (wireType === 2) {
      const length = readVarint()
      if (at + length > message.length) throw new ProtocolError('a protobuf field is cut short')
      visit(field, wireType, message.subarray(at, at + length))
      at += length
    } else if (wireType === 1) at += 8
    else if (wireType === 5) at += 4
    else throw new ProtocolError(`a protobuf field has the unknown wire type ${wireType}`)
    if (at > message.length) throw new ProtocolError('a protobuf field is cut short')
  }
}
