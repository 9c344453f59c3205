# Source this file (`. ./scripts/use-node.sh`): it puts a Node.js >= 22.12 first on PATH.
#
# Coffer targets Node 24 LTS (engines >=22.12). When the machine's `node` is older, this
# installs node@24 from the npm registry into $COFFER_NODE_PREFIX (default
# ~/.cache/coffer/node24) once, puts it first on PATH, and points node-gyp at that
# Node's own headers so native modules (better-sqlite3) build for the right ABI.
# When the machine's node is new enough it changes nothing.

coffer_node_ok() {
  node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=12)?0:1)' 2>/dev/null
}

if ! coffer_node_ok; then
  COFFER_NODE_PREFIX="${COFFER_NODE_PREFIX:-$HOME/.cache/coffer/node24}"
  if [ ! -x "$COFFER_NODE_PREFIX/node_modules/.bin/node" ]; then
    echo "use-node: $(node --version 2>/dev/null || echo 'no node') is older than 22.12; installing node@24 into $COFFER_NODE_PREFIX" >&2
    mkdir -p "$COFFER_NODE_PREFIX"
    npm install --silent --no-save --prefix "$COFFER_NODE_PREFIX" node@24 >&2 || {
      echo "use-node: could not install node@24 from the npm registry" >&2
      return 1 2>/dev/null || exit 1
    }
  fi
  PATH="$COFFER_NODE_PREFIX/node_modules/.bin:$PATH"
  export PATH
  coffer_headers="$(find "$COFFER_NODE_PREFIX/node_modules" -maxdepth 4 -type d -name 'node-linux-*' 2>/dev/null | head -n 1)"
  if [ -n "$coffer_headers" ] && [ -d "$coffer_headers/include/node" ]; then
    npm_config_nodedir="$coffer_headers"
    export npm_config_nodedir
  fi
  unset coffer_headers
fi
unset -f coffer_node_ok
