// Runs the code blocks of readme documents (see test/docs/suite.ts).
import { checkMarkers, docSuite, SUITES } from './suite.js'

checkMarkers()
docSuite(SUITES.readme)
