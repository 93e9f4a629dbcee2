#!/bin/sh
# Builds the Debian package with cargo-deb (`cargo install cargo-deb`), after generating the
# assets that are not in git: the man pages and the shell completions, made by the release
# binary itself from its clap definitions. Run from anywhere; the .deb lands in target/debian/.
set -eu
cd "$(dirname "$0")/../.."
cargo build --release --locked
assets=target/assets
rm -rf "$assets"
mkdir -p "$assets/man" "$assets/completions"
target/release/backscatter man --dir "$assets/man"
# Debian policy §12.1: man pages are installed gzip-compressed (-n: reproducible).
gzip -9n "$assets"/man/*.1
target/release/backscatter completions bash > "$assets/completions/backscatter"
target/release/backscatter completions zsh > "$assets/completions/_backscatter"
target/release/backscatter completions fish > "$assets/completions/backscatter.fish"
cargo deb --no-build --locked "$@"
