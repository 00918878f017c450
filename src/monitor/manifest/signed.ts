/**
 * p2 pod manifests may be signed: an OpenPGP cleartext signature around the YAML
 * (`-----BEGIN PGP SIGNED MESSAGE-----`, armor headers, the text with every line that
 * starts with `-` escaped as `- -`, then the signature block), which p2's tools read as
 * the manifest inside. The monitor reads the same manifest: the armor lines become YAML
 * comments and the dash escapes are undone, line for line, so a mistake is still reported
 * at its line in the file. The signature is not verified: the monitor only learns where
 * to send its checks, and p2's preparer verifies what it runs.
 */
import { ManifestError } from './types.js'

const BEGIN = '-----BEGIN PGP SIGNED MESSAGE-----'
const SIGNATURE = '-----BEGIN PGP SIGNATURE-----'
const END = '-----END PGP SIGNATURE-----'

/** The YAML of a clearsigned manifest, at the lines it has in `text`; any other text as it is. */
export function unsignedManifest(text: string, file: string): string {
  const start = /^\uFEFF?[ \t\r\n]*/.exec(text)?.[0].length ?? 0
  if (!text.startsWith(BEGIN, start)) return text
  const lines = text.split('\n')
  const out: string[] = []
  // The armor headers (Hash: SHA256) run to the first empty line; the signed text follows.
  let part: 'headers' | 'text' | 'signature' | 'after' = 'headers'
  let seenBegin = false
  for (const raw of lines) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw
    if (!seenBegin) {
      if (line.trimEnd().endsWith(BEGIN)) seenBegin = true
      out.push(line.trim() === '' ? line : '#')
      continue
    }
    if (part === 'headers') {
      if (line.trim() === '') part = 'text'
      out.push(line.trim() === '' ? '' : '#')
    } else if (part === 'text') {
      if (line.trimEnd() === SIGNATURE) {
        part = 'signature'
        out.push('#')
      } else out.push(line.startsWith('- ') ? line.slice(2) : line)
    } else if (part === 'signature') {
      if (line.trimEnd() === END) part = 'after'
      out.push('#')
    } else out.push(line.trim() === '' ? line : '#')
  }
  if (part !== 'after') {
    const what = part === 'signature' ? `no "${END}" line` : `no "${SIGNATURE}" block after the manifest`
    throw new ManifestError(
      file,
      undefined,
      undefined,
      `this PGP-signed manifest has ${what}; sign it again (gpg --clearsign) or remove the signature`,
    )
  }
  return out.join('\n')
}
