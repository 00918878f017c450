// Runs the code blocks of these documents (see test/docs/suite.ts).
import { docSuite } from './suite.js'

docSuite(['docs/monitor.md', 'docs/api.md', 'docs/etcd.md', 'docs/dashboard.md', 'docs/demo.md', 'docs/benchmarks.md'])
