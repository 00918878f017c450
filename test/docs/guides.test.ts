// Runs the code blocks of these documents (see test/docs/suite.ts).
import { docSuite } from './suite.js'

docSuite([
  'docs/cli.md',
  'docs/docker.md',
  'docs/kubernetes.md',
  'docs/health-command.md',
  'docs/worker.md',
  'docs/shutdown.md',
])
