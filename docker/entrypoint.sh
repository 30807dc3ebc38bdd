#!/bin/sh
# Entry point of the proTES image: runs the app named by the first argument with the others,
# from the folder that holds dist/ (the image's WORKDIR).
set -eu
app="${1:-gateway}"
case "$app" in
  gateway | tracker | tes-sim) ;;
  *)
    echo "usage: protes gateway|tracker|tes-sim [arguments of the app]" >&2
    exit 2
    ;;
esac
if [ "$#" -gt 0 ]; then shift; fi
# exec: node replaces the shell, so the stop signal (SIGTERM) reaches the app itself.
exec node "dist/apps/$app/src/main.js" "$@"
