// Runs the code blocks of frameworks documents (see test/docs/suite.ts).
import { docSuite, SUITES } from './suite.js'

docSuite(SUITES.frameworks)
