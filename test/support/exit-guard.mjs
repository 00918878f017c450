// Loaded into every test file's process by scripts/test.mjs (--import). A file whose tests
// are over exits by itself, unless something it started is still open: then, EXIT_AFTER_MS
// later, this names what is open and ends the process with the verdict its tests gave.
//
// This replaces node's --test-force-exit, which ends a file the moment its tests are over
// and can drop the last results it had yet to report (nodejs/node#64833: with concurrency,
// a file's last verdicts went missing while the run still exited 0). Here the results were
// reported long before the exit.
import { relative } from 'node:path'
import { after } from 'node:test'

const EXIT_AFTER_MS = 10_000

// Only in a test file's own process (the runner sets NODE_TEST_CONTEXT there), not in the runner.
if (process.env.NODE_TEST_CONTEXT) {
  // Every process this file starts inherits the mark (servers, monitors, CLIs), so
  // scripts/test.mjs can find one this file leaves running, even after the file itself was
  // killed and its 'exit' handlers never ran.
  process.env.PROBEKIT_TEST_FILE = `${process.pid} ${relative(process.cwd(), process.argv[1] ?? '?')}`
  after(() => {
    const timer = setTimeout(() => {
      const open = process.getActiveResourcesInfo().filter((kind) => kind !== 'Timeout')
      const file = relative(process.cwd(), process.argv[1] ?? '?')
      process.stderr.write(
        `\n[exit-guard] ${file}: its tests ended ${EXIT_AFTER_MS / 1000} s ago and it has not exited; still open: ${open.join(', ') || 'timers'}. Ending it.\n`,
      )
      process.exit()
    }, EXIT_AFTER_MS)
    timer.unref()
  })
}
