// Runs the code blocks of these documents (see test/docs/suite.ts).
import { docSuite } from './suite.js'

docSuite(['docs/probes.md', 'docs/frameworks.md'])
