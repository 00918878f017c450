// Runs the code blocks of these documents (see test/docs/suite.ts).
import { checkMarkers, docSuite } from './suite.js'

checkMarkers()
docSuite(['README.md'])
