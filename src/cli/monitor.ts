import { UsageError } from './usage-error.js'

// Placeholder until the command lands; replaced by its implementation.
export async function run(_argv: string[]): Promise<number> {
  throw new UsageError('the "monitor" command is not available in this build yet')
}
