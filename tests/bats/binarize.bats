#!/usr/bin/env bats
# binarize: probability maps to binary masks at a threshold.

load helpers
source "$FIXTURES/score-pam.bash"

# raster FILE N: the last N bytes of FILE as decimal numbers on one line.
raster() {
	tail -c "$2" "$1" | od -An -tu1 -v | tr -s ' \n' ' ' | sed 's/^ //; s/ $//'
}

# The values around the threshold 0.5: 32767/65535 < 0.5 < 32768/65535.
make_map() {
	pam 7 1 65535 GRAYSCALE id=a 0 1 32767 32768 32769 65534 65535 \
		>"$TMP/map.pam"
}

@test "threshold 0.5 (the default): foreground exactly where v > 32767" {
	make_map
	binarize "$TMP/map.pam" >"$TMP/out.pam"
	run raster "$TMP/out.pam" 7
	assert_output "0 0 0 255 255 255 255"
	run head -c 200 "$TMP/out.pam"
	assert_output --partial $'WIDTH 7\nHEIGHT 1\nDEPTH 1\nMAXVAL 255\nTUPLTYPE GRAYSCALE\nENDHDR'
	binarize --threshold 0.5 <"$TMP/map.pam" | cmp - "$TMP/out.pam"
}

@test "threshold 0, 1 and between two values: strictly greater" {
	make_map
	binarize --threshold 0 "$TMP/map.pam" >"$TMP/out.pam"
	run raster "$TMP/out.pam" 7
	assert_output "0 255 255 255 255 255 255"
	binarize --threshold 1 "$TMP/map.pam" >"$TMP/out.pam"
	run raster "$TMP/out.pam" 7
	assert_output "0 0 0 0 0 0 0"
	# p = 32768/65535 exactly as a threshold: that pixel is not above it.
	binarize -T 0.50000762951094835 "$TMP/map.pam" >"$TMP/out.pam"
	run raster "$TMP/out.pam" 7
	assert_output "0 0 0 0 255 255 255"
}

@test "--maxval 1 writes 0 and 1" {
	make_map
	binarize --maxval 1 "$TMP/map.pam" >"$TMP/out.pam"
	run raster "$TMP/out.pam" 7
	assert_output "0 0 0 1 1 1 1"
	run grep -ac '^MAXVAL 1$' "$TMP/out.pam"
	assert_output 1
}

@test "id, original size and other comments are carried" {
	{
		printf 'P7\n#id s-1\n#original-size 640x480\n#made by hand\n'
		printf 'WIDTH 2\nHEIGHT 1\nDEPTH 1\nMAXVAL 65535\nTUPLTYPE GRAYSCALE\nENDHDR\n'
		printf '\x00\x00\xff\xff'
	} >"$TMP/map.pam"
	binarize "$TMP/map.pam" >"$TMP/out.pam"
	run grep -a '^#' "$TMP/out.pam"
	assert_output $'#id s-1\n#original-size 640x480\n#made by hand'
	run raster "$TMP/out.pam" 2
	assert_output "0 255"
}

@test "multi-image stream: each image by itself, in order" {
	{
		pam 2 2 65535 GRAYSCALE id=a 65535 0 0 65535
		pam 3 1 65535 GRAYSCALE 40000 20000 50000
		pam 1 1 65535 GRAYSCALE id=c 32768
	} >"$TMP/map.pam"
	binarize <"$TMP/map.pam" >"$TMP/out.pam"
	run pamfile -allimages "$TMP/out.pam"
	assert_equal "${#lines[@]}" 6
	assert_line --index 0 --partial "2 by 2 by 1 maxval 255"
	assert_line --index 2 --partial "3 by 1 by 1 maxval 255"
	assert_line --index 4 --partial "1 by 1 by 1 maxval 255"
	run bash -c 'pamtopnm -plain <"$1" | sed "s/ *$//"' _ "$TMP/out.pam"
	assert_output $'P2\n2 2\n255\n255 0\n0 255\nP2\n3 1\n255\n255 0 255\nP2\n1 1\n255\n255'
	pamsplit "$TMP/out.pam" "$TMP/img-%d.pam"
	run raster "$TMP/img-1.pam" 3
	assert_output "255 0 255"
	run raster "$TMP/img-2.pam" 1
	assert_output "255"
	run grep -ac '^#id ' "$TMP/out.pam"
	assert_output 2
}

@test "the masks match numpy's v / 65535 > t and score as the maps do" {
	"$REFPY" - "$TMP" <<'PY'
import sys, numpy as np
rng = np.random.default_rng(7)
tmp = sys.argv[1]
with open(tmp + "/map.pam", "wb") as m, open(tmp + "/truth.pam", "wb") as t:
    for k, (w, h) in enumerate([(23, 17), (31, 9)]):
        v = rng.integers(0, 65536, size=(h, w), dtype=np.uint16)
        v.flat[:6] = [0, 19660, 19661, 32767, 32768, 65535]
        m.write(b"P7\nWIDTH %d\nHEIGHT %d\nDEPTH 1\nMAXVAL 65535\nTUPLTYPE GRAYSCALE\nENDHDR\n" % (w, h))
        m.write(v.astype(">u2").tobytes())
        truth = (rng.random((h, w)) < 0.4).astype(np.uint8)
        t.write(b"P7\nWIDTH %d\nHEIGHT %d\nDEPTH 1\nMAXVAL 1\nTUPLTYPE GRAYSCALE\nENDHDR\n" % (w, h))
        t.write(truth.tobytes())
        for thr in (0.3, 0.5):
            with open("%s/want-%s-%d" % (tmp, thr, k), "wb") as f:
                f.write(((v / 65535.0 > thr) * 255).astype(np.uint8).tobytes())
PY
	for t in 0.3 0.5; do
		binarize --threshold "$t" "$TMP/map.pam" >"$TMP/out.pam"
		pamsplit "$TMP/out.pam" "$TMP/out-%d.pam"
		tail -c $((23 * 17)) "$TMP/out-0.pam" | cmp - "$TMP/want-$t-0"
		tail -c $((31 * 9)) "$TMP/out-1.pam" | cmp - "$TMP/want-$t-1"
		a=$(score --truth "$TMP/truth.pam" --threshold "$t" "$TMP/map.pam" |
			jq -c '.pooled | [.tp, .fp, .fn, .tn]')
		b=$(score --truth "$TMP/truth.pam" "$TMP/out.pam" |
			jq -c '.pooled | [.tp, .fp, .fn, .tn]')
		assert_equal "$b" "$a"
	done
}

@test "--threshold-from takes the best threshold of a threshold-sweep report" {
	# F1 is best at 0.1 here, where p = 0.2 (v = 13107) is foreground.
	{
		pam 4 1 65535 GRAYSCALE id=a 0 13107 32768 65535
		pam 2 1 65535 GRAYSCALE id=b 65535 0
	} >"$TMP/pred.pam"
	{
		pam 4 1 255 GRAYSCALE_MASK id=a 10 0 20 255 30 255 40 0
		pam 2 1 255 GRAYSCALE_MASK id=b 5 255 6 0
	} >"$TMP/truth.pam"
	threshold-sweep --truth "$TMP/truth.pam" "$TMP/pred.pam" >"$TMP/sweep.json"
	run jq .best.threshold "$TMP/sweep.json"
	assert_output 0.1
	binarize --threshold-from "$TMP/sweep.json" "$TMP/pred.pam" >"$TMP/out.pam"
	pamsplit "$TMP/out.pam" "$TMP/out-%d.pam"
	run raster "$TMP/out-0.pam" 4
	assert_output "0 255 255 255"
	run raster "$TMP/out-1.pam" 2
	assert_output "255 0"
	# At the default 0.5 it is background.
	binarize "$TMP/pred.pam" | pamsplit - "$TMP/half-%d.pam"
	run raster "$TMP/half-0.pam" 4
	assert_output "0 0 255 255"
}

@test "a bad threshold-sweep report: exit 1, one line" {
	make_map
	echo '{"best": {"threshold": 2}}' >"$TMP/bad.json"
	run binarize --threshold-from "$TMP/bad.json" "$TMP/map.pam"
	assert_failure 1
	assert_one_error_line binarize
	run binarize --threshold-from "$TMP/none.json" "$TMP/map.pam"
	assert_failure 1
	assert_one_error_line binarize
}

@test "an image that is not a probability map: exit 1, one line naming it" {
	{
		pam 1 1 65535 GRAYSCALE id=a 40000
		pam 2 1 255 GRAYSCALE id=b 0 255
	} >"$TMP/in.pam"
	run bash -c 'binarize "$1" >/dev/null' _ "$TMP/in.pam"
	assert_failure 1
	assert_one_error_line binarize
	assert_output --partial "in.pam: image 2: not a probability map"
	run bash -c 'binarize "$1" >"$2"' _ "$TMP/in.pam" "$TMP/out.pam"
	assert_failure 1
	# The first image was written whole.
	run raster "$TMP/out.pam" 1
	assert_output 255
	run pamfile -allimages "$TMP/out.pam"
	assert_equal "${#lines[@]}" 2
	pam 1 1 65535 RGB 1 2 3 >"$TMP/rgb.pam"
	pam 1 1 65535 GRAYSCALE_MASK 1 2 >"$TMP/sample.pam"
	pam 1 1 1 BLACKANDWHITE 1 >"$TMP/bw.pam"
	for f in rgb sample bw; do
		run binarize <"$TMP/$f.pam"
		assert_failure 1
		assert_one_error_line binarize
		assert_output --partial "stdin: image 1: "
	done
}

@test "a multi-output map (FOREGROUND_*): channel 0 thresholded, the others ignored" {
	# Channel 0 as make_map; channel 1 the opposite, so that reading
	# the wrong channel or both gives other masks.
	pam 7 1 65535 FOREGROUND_DISTANCE id=a 0 65535 1 65534 32767 32768 \
		32768 32767 32769 1 65534 0 65535 0 >"$TMP/two.pam"
	binarize "$TMP/two.pam" >"$TMP/out.pam"
	run raster "$TMP/out.pam" 7
	assert_output "0 0 0 255 255 255 255"
	run head -c 200 "$TMP/out.pam"
	assert_output --partial $'P7\n#id a\nWIDTH 7\nHEIGHT 1\nDEPTH 1\nMAXVAL 255\nTUPLTYPE GRAYSCALE\nENDHDR'
	pam 1 1 65535 FOREGROUND_BORDER_CENTRE 40000 0 0 >"$TMP/three.pam"
	binarize --maxval 1 "$TMP/three.pam" >"$TMP/out.pam"
	run raster "$TMP/out.pam" 1
	assert_output 1
	pam 1 1 255 FOREGROUND_DISTANCE 200 0 >"$TMP/bad.pam"
	run binarize "$TMP/bad.pam"
	assert_failure 1
	assert_one_error_line binarize
	assert_output --partial "bad.pam: image 1: not a probability map"
}

@test "usage errors: exit 2" {
	make_map
	run binarize --threshold 1.5 "$TMP/map.pam"
	assert_failure 2
	run binarize --threshold x "$TMP/map.pam"
	assert_failure 2
	run binarize --maxval 2 "$TMP/map.pam"
	assert_failure 2
	run binarize --maxval 65535 "$TMP/map.pam"
	assert_failure 2
	run binarize --threshold 0.5 --threshold-from x.json "$TMP/map.pam"
	assert_failure 2
	run binarize "$TMP/map.pam" "$TMP/map.pam"
	assert_failure 2
	run binarize --bogus "$TMP/map.pam"
	assert_failure 2
	run binarize --threshold
	assert_failure 2
}

@test "--help and --version" {
	run binarize --help
	assert_success
	assert_line --index 0 --partial "usage: binarize"
	assert_output --partial "--threshold-from"
	assert_output --partial "--maxval"
	run binarize --version
	assert_success
	assert_output --regexp '^binarize unetpipe [0-9]'
}

@test "empty input: empty output, exit 0" {
	run bash -c 'binarize </dev/null | wc -c'
	assert_success
	assert_output 0
}

@test "truncated stream: earlier images whole, exit 1, one line" {
	{
		pam 2 1 65535 GRAYSCALE id=a 65535 0
		pam 3 1 65535 GRAYSCALE id=b 65535 0 65535 | head -c -1
	} >"$TMP/in.pam"
	run bash -c 'binarize "$1" >/dev/null' _ "$TMP/in.pam"
	assert_failure 1
	assert_one_error_line binarize
	assert_output --partial "in.pam: image 2: "
	run bash -c 'binarize "$1" >"$2"' _ "$TMP/in.pam" "$TMP/out.pam"
	run pamfile -allimages "$TMP/out.pam"
	assert_equal "${#lines[@]}" 2
	run raster "$TMP/out.pam" 2
	assert_output "255 0"
	# A header cut short too.
	run bash -c 'printf "P7\nWIDTH 2\nHEI" | binarize'
	assert_failure 1
	assert_one_error_line binarize
}

@test "write error on stdout: exit 1" {
	make_map
	run bash -c 'binarize "$1" >/dev/full' _ "$TMP/map.pam"
	assert_failure 1
	assert_one_error_line binarize
}

@test "standard output redirected to the input or the sweep file is refused" {
	pam 2 1 65535 GRAYSCALE id=a 0 65535 >"$TMP/p.pam"
	cp "$TMP/p.pam" "$TMP/p.before"
	run bash -c 'binarize "$1" >>"$1"' _ "$TMP/p.pam"
	assert_failure 1
	assert_output "binarize: $TMP/p.pam: is also the standard output"
	cmp "$TMP/p.pam" "$TMP/p.before"
	run bash -c 'binarize <"$1" >>"$1"' _ "$TMP/p.pam"
	assert_failure 1
	assert_output "binarize: stdin: is also the standard output"
	cmp "$TMP/p.pam" "$TMP/p.before"
	echo '{"best": {"threshold": 0.5}}' >"$TMP/s.json"
	run bash -c 'binarize --threshold-from "$1" "$2" >>"$1"' _ "$TMP/s.json" "$TMP/p.pam"
	assert_failure 1
	assert_output "binarize: $TMP/s.json: is also the standard output"
	assert_equal "$(cat "$TMP/s.json")" '{"best": {"threshold": 0.5}}'
}
