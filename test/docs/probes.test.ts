// Runs the code blocks of probes documents (see test/docs/suite.ts).
import { docSuite, SUITES } from './suite.js'

docSuite(SUITES.probes)
