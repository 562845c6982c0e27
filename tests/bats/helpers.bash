# Common setup for the bats tests: our binaries first on PATH, the
# committed sample data, a scratch folder, bats-support and bats-assert.
bats_load_library bats-support
bats_load_library bats-assert

ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
# UNETPIPE_BIN (default bin/) picks another build of the filters, such as
# the sanitized one in bin-san/.
UNETPIPE_BIN=${UNETPIPE_BIN:-$ROOT/bin}
export PATH="$UNETPIPE_BIN:$ROOT/pipelines:$PATH"
DATA="$ROOT/data"
FIXTURES="$ROOT/tests/fixtures"
# Debian's python3 has torch; a pyenv python3 earlier on PATH does not.
REFPY=/usr/bin/python3
REFERENCE="$ROOT/tests/reference/unet_reference.py"

setup() {
	TMP="$BATS_TEST_TMPDIR"
}

# assert_one_error_line PROG: the run failed with exactly one stderr line
# (bats merges stderr into $output) that starts with "PROG: ".
assert_one_error_line() {
	assert_equal "${#lines[@]}" 1
	assert_regex "${lines[0]}" "^$1: "
}
