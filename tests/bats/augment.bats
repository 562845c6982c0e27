#!/usr/bin/env bats
# augment: augmented copies of samples, mask aligned and binary, seeded.

load helpers
source "$FIXTURES/score-pam.bash"

S16="$FIXTURES/train-16.pam"   # 6 RGB_MASK samples, 16x16, maxval 255
G16="$FIXTURES/train-gray16.pam" # 6 GRAYSCALE_MASK samples, maxval 65535

# pam_py: python code with read_pams(path) -> list of dicts (a: HxWxD int
# array, maxval, tt, comments).
pam_py='
import sys
import numpy as np
def read_pams(path):
    data = open(path, "rb").read(); pos = 0; out = []
    while pos < len(data):
        end = data.index(b"ENDHDR\n", pos) + 7
        f = {}; cm = []
        for l in data[pos:end].decode().split("\n"):
            if l.startswith("#"): cm.append(l)
            elif " " in l:
                k, v = l.split(" ", 1); f[k] = v
        w, h, d, mx = (int(f[k]) for k in ("WIDTH", "HEIGHT", "DEPTH", "MAXVAL"))
        dt = np.dtype(">u2") if mx > 255 else np.dtype("u1")
        n = w * h * d * dt.itemsize
        a = np.frombuffer(data[end:end + n], dt).reshape(h, w, d).astype(np.int64)
        out.append(dict(a=a, maxval=mx, tt=f.get("TUPLTYPE"), comments=cm))
        pos = end + n
    return out
'

# A sample whose mask is its red channel thresholded: 32x32 RGB_MASK.
make_blob() {
	"$REFPY" -c '
import numpy as np, sys
y, x = np.mgrid[0:32, 0:32]
fg = ((x - 12) ** 2 + (y - 14) ** 2 < 40) | ((x > 22) & (y < 8))
a = np.zeros((32, 32, 4), np.uint8)
a[..., 0] = np.where(fg, 230, 20)
a[..., 1] = x * 7
a[..., 2] = y * 7
a[..., 3] = np.where(fg, 255, 0)
sys.stdout.buffer.write(b"P7\nWIDTH 32\nHEIGHT 32\nDEPTH 4\nMAXVAL 255\nTUPLTYPE RGB_MASK\n#id blob\n#original-size 640x480\n#made by hand\nENDHDR\n" + a.tobytes())
' >"$TMP/blob.pam"
}

@test "flip,rot90: every copy is one of the 8 symmetries of its sample, mask included" {
	run augment --ops flip,rot90 --copies 4 "$S16"
	assert_success
	augment --ops flip,rot90 --copies 4 "$S16" >"$TMP/out.pam"
	"$REFPY" -c "$pam_py
src = read_pams(sys.argv[1]); out = read_pams(sys.argv[2])
assert len(out) == 4 * len(src)
kinds = set()
for i, o in enumerate(out):
    a = src[i // 4]['a']; b = o['a']
    syms = [np.rot90(f, k) for f in (a, a[:, ::-1]) for k in range(4)]
    hit = [k for k, s in enumerate(syms) if np.array_equal(s, b)]
    assert hit, i
    kinds.add(hit[0])
assert len(kinds) >= 5, kinds
" "$S16" "$TMP/out.pam"
}

@test "crop, elastic: mask binary and aligned with the image; color leaves the mask" {
	make_blob
	augment --ops crop,elastic --copies 8 "$TMP/blob.pam" >"$TMP/geo.pam"
	augment --ops color --copies 4 "$TMP/blob.pam" >"$TMP/col.pam"
	augment --copies 8 "$TMP/blob.pam" >"$TMP/all.pam"
	"$REFPY" -c "$pam_py
src = read_pams(sys.argv[1])[0]['a']
for path in sys.argv[2], sys.argv[4]:
    for o in read_pams(path):
        a = o['a']
        assert set(np.unique(a[..., 3])) <= {0, 255}
        assert not np.array_equal(a, src)
        agree = ((a[..., 0] > 127) == (a[..., 3] > 127)).mean()
        assert agree >= 0.95, agree
for o in read_pams(sys.argv[3]):
    a = o['a']
    assert np.array_equal(a[..., 3], src[..., 3])
    assert not np.array_equal(a[..., :3], src[..., :3])
" "$TMP/blob.pam" "$TMP/geo.pam" "$TMP/col.pam" "$TMP/all.pam"
}

@test "same seed, same bytes; another seed differs; copies are a prefix" {
	augment --seed 5 --copies 3 "$S16" >"$TMP/a.pam"
	augment --seed 5 --copies 3 "$S16" >"$TMP/b.pam"
	cmp "$TMP/a.pam" "$TMP/b.pam"
	augment --seed 6 --copies 3 "$S16" >"$TMP/c.pam"
	run cmp -s "$TMP/a.pam" "$TMP/c.pam"
	assert_failure
	# Copy J of image K does not depend on --copies.
	augment --seed 5 --copies 1 "$S16" >"$TMP/one.pam"
	"$REFPY" -c "$pam_py
a = read_pams(sys.argv[1]); b = read_pams(sys.argv[2])
for k in range(len(b)):
    assert np.array_equal(a[3 * k]['a'], b[k]['a'])
" "$TMP/a.pam" "$TMP/one.pam"
	# --ops none: plain copies.
	augment --ops none "$S16" >"$TMP/none.pam"
	diff <(grep -av '^#id' "$S16") <(grep -av '^#id' "$TMP/none.pam")
}

@test "counts, ids, comments; --keep-original first; no id: the index" {
	make_blob
	run bash -c 'augment --copies 2 --keep-original "$1" | grep -a "^#"' _ "$TMP/blob.pam"
	assert_success
	assert_output "$(printf '%s\n' '#id blob' '#original-size 640x480' '#made by hand' \
		'#id blob~aug1' '#original-size 640x480' '#made by hand' \
		'#id blob~aug2' '#original-size 640x480' '#made by hand')"
	run bash -c 'augment --copies 3 --keep-original "$1" | pamfile -allimages | grep -c Image' _ "$S16"
	assert_output 24
	run bash -c 'augment --copies 2 "$1" | grep -a "^#id"' _ "$G16"
	assert_equal "${#lines[@]}" 12
	assert_equal "${lines[1]}" "#id $(grep -a -m1 '^#id' "$G16" | cut -c5-)~aug2"
	{
		pam 2 1 255 GRAYSCALE 0 255
		pam 2 1 255 GRAYSCALE 7 9
	} >"$TMP/noid.pam"
	run bash -c 'augment --copies 2 --ops flip "$1" | grep -a "^#id"' _ "$TMP/noid.pam"
	assert_output "$(printf '%s\n' '#id 1~aug1' '#id 1~aug2' '#id 2~aug1' '#id 2~aug2')"
}

@test "image streams without a mask, 16-bit samples: values stay in range" {
	{
		pam 2 2 65535 GRAYSCALE id=g 0 1000 65535 30000
		pam 1 1 255 RGB id=c 10 20 30
	} >"$TMP/img.pam"
	run bash -c 'augment --copies 2 --ops flip,rot90 "$1" | pamfile -allimages' _ "$TMP/img.pam"
	assert_success
	assert_equal "$(grep -c Image <<<"$output")" 4
	augment --copies 3 "$G16" >"$TMP/g.pam"
	"$REFPY" -c "$pam_py
for o in read_pams(sys.argv[1]):
    a = o['a']
    assert o['maxval'] == 65535 and o['tt'] == 'GRAYSCALE_MASK'
    assert a.min() >= 0 and a.max() <= 65535
    assert set(np.unique(a[..., 1])) <= {0, 65535}
" "$TMP/g.pam"
}

@test "usage errors exit 2" {
	for args in "--copies -1" "--copies x" "--copies 0" "--ops zoom" \
		"--ops flip,,crop" "--ops=" "--seed -1" "--bogus" "a b" "--seed"; do
		run augment $args
		assert_failure 2
		assert_line --partial "Try 'augment --help'"
	done
	run augment --help
	assert_success
	assert_line --partial "--keep-original"
	run augment --version
	assert_output --regexp '^augment unetpipe [0-9]+\.[0-9]+\.[0-9]+$'
	# --copies 0 with --keep-original copies the stream.
	run bash -c 'augment --copies 0 --keep-original "$1" | cmp - "$1"' _ "$S16"
	assert_success
}

@test "bad data and missing file: exit 1, one line" {
	pam 2 1 255 PROBABILITY 0 255 >"$TMP/bad.pam"
	run augment "$TMP/bad.pam"
	assert_failure 1
	assert_one_error_line augment
	assert_output --partial "bad.pam: image 1"
	run augment "$TMP/none.pam"
	assert_failure 1
	assert_one_error_line augment
}

@test "empty input: empty output, exit 0" {
	run bash -c 'augment </dev/null | wc -c'
	assert_success
	assert_output 0
}

@test "truncated stream: earlier images whole, exit 1, one line" {
	{
		pam 2 1 255 GRAYSCALE id=a 0 255
		pam 3 1 255 GRAYSCALE id=b 1 2 3 | head -c -1
	} >"$TMP/in.pam"
	run bash -c 'augment --copies 2 "$1" >/dev/null' _ "$TMP/in.pam"
	assert_failure 1
	assert_one_error_line augment
	assert_output --partial "in.pam: image 2: "
	augment --copies 2 "$TMP/in.pam" >"$TMP/out.pam" 2>/dev/null || true
	run bash -c 'pamfile -allimages "$1" | grep -c Image' _ "$TMP/out.pam"
	assert_output 2
}

@test "> /dev/full: exit 1, one line" {
	run bash -c 'augment --copies 2 "$1" >/dev/full' _ "$S16"
	assert_failure 1
	assert_one_error_line augment
}

@test "standard output redirected to the input is refused (it used to grow without end)" {
	cp "$S16" "$TMP/s.pam"
	run timeout 20 bash -c 'ulimit -f 20000; augment "$1" >>"$1"' _ "$TMP/s.pam"
	assert_failure 1
	assert_output "augment: $TMP/s.pam: is also the standard output"
	cmp "$TMP/s.pam" "$S16"
	run timeout 20 bash -c 'ulimit -f 20000; augment <"$1" >>"$1"' _ "$TMP/s.pam"
	assert_failure 1
	assert_output "augment: stdin: is also the standard output"
	cmp "$TMP/s.pam" "$S16"
}

@test "augment(1) EXAMPLES run" {
	ln -sfn "$DATA" "$TMP/data"
	"$ROOT/tests/man-examples" "$ROOT/man/augment.1" >"$TMP/examples.sh"
	cd "$TMP"
	run timeout 120 bash -euo pipefail examples.sh
	assert_success
	[ "$(pamfile -allimages more.pam | grep -c Image)" -eq 120 ]
	# 24 samples, 3 copies: an image and its labels each
	[ "$(ls seen | wc -l)" -eq 144 ]
	[ "$(ls seen | grep -c -- '-labels\.png$')" -eq 72 ]
}
