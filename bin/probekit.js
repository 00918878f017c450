#!/usr/bin/env node
// The CLI bundle (npm run build): an entry plus lazily loaded chunks per command and probe.
import '../dist/bin/probekit.js'
