// Runs the code blocks of monitor documents (see test/docs/suite.ts).
import { docSuite, SUITES } from './suite.js'

docSuite(SUITES.monitor)
