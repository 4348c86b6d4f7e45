#!/bin/sh
# Generate ./configure from configure.ac (needs autoconf and pkg-config's m4 macros).
set -e
cd "$(dirname "$0")"
autoreconf -fi
