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

# mkpam W H DEPTH MAXVAL TUPLTYPE ID VALUES...: one PAM image on stdout
# (ID "-" for none), samples in row-major order, channels interleaved.
mkpam() {
	local w=$1 h=$2 d=$3 m=$4 t=$5 id=$6 v raw=
	shift 6
	printf 'P7\nWIDTH %d\nHEIGHT %d\nDEPTH %d\nMAXVAL %d\nTUPLTYPE %s\n' \
		"$w" "$h" "$d" "$m" "$t"
	[[ $id == - ]] || printf '#id %s\n' "$id"
	printf 'ENDHDR\n'
	for v; do
		if ((m > 255)); then
			printf -v v '\\x%02x\\x%02x' $((v >> 8)) $((v & 255))
		else
			printf -v v '\\x%02x' "$v"
		fi
		raw+=$v
	done
	printf "$raw"
}

# pam_dump FILE: each image of a PAM stream as a line
# "ID WxHxDEPTH MAXVAL TUPLTYPE" (ID "-" when none), then one line per
# row of samples (a pixel's channels joined by ',').
pam_dump() {
	"$REFPY" - "$1" <<'PY'
import sys
data = open(sys.argv[1], 'rb').read()
pos = 0
while pos < len(data):
    head = {}
    ident = '-'
    while True:
        end = data.index(b'\n', pos)
        line = data[pos:end].decode()
        pos = end + 1
        if line == 'ENDHDR':
            break
        if line.startswith('#id '):
            ident = line[4:]
        elif not line.startswith('#') and line != 'P7':
            k, v = line.split(' ', 1)
            head[k] = v
    w, h, d, m = (int(head[k]) for k in ('WIDTH', 'HEIGHT', 'DEPTH', 'MAXVAL'))
    b = 2 if m > 255 else 1
    print('%s %dx%dx%d %d %s' % (ident, w, h, d, m, head['TUPLTYPE']))
    for y in range(h):
        row = []
        for x in range(w):
            px = []
            for c in range(d):
                px.append(int.from_bytes(data[pos:pos + b], 'big'))
                pos += b
            row.append(','.join(map(str, px)))
        print(' '.join(row))
PY
}
