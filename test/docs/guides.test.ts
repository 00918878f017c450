// Runs the code blocks of guides documents (see test/docs/suite.ts).
import { docSuite, SUITES } from './suite.js'

docSuite(SUITES.guides)
