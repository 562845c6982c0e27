#!/usr/bin/env bats
# ingest-resize: Data Science Bowl folders, image files and streams to PAM.

load helpers

SET="$DATA/stage1_train"
FLUO=16c3d5935ba94b720becc24b7a05741c26149e221e3401924080f41e2f891368
HISTO=8e507d58f4c27cd2a82bee79fe27b069befd62a46fdaed20970a95a2ba819c7b

# describe FILE: one line per image of a PAM stream:
# "id WxHxD maxval TUPLTYPE original-size foreground" (foreground: count
# of mask pixels > maxval/2 for *_MASK, else -; missing id/size: -).
describe() {
	"$REFPY" - "$1" <<'EOF'
import sys, numpy as np
data = open(sys.argv[1], "rb").read()
pos = 0
while pos < len(data):
    end = data.index(b"ENDHDR\n", pos) + 7
    head = data[pos:end].decode().split("\n")
    f = dict(l.split(" ", 1) for l in head[1:] if " " in l and l[0] != "#")
    c = dict(l[1:].split(" ", 1) for l in head if l.startswith("#"))
    w, h, d, m = (int(f[k]) for k in ("WIDTH", "HEIGHT", "DEPTH", "MAXVAL"))
    bps = 2 if m > 255 else 1
    a = np.frombuffer(data, ">u2" if bps == 2 else "u1", w * h * d, end)
    a = a.reshape(h, w, d)
    fg = str(int((a[:, :, -1] > m // 2).sum())) if f["TUPLTYPE"].endswith("_MASK") else "-"
    print(c.get("id", "-"), "%dx%dx%d" % (w, h, d), m, f["TUPLTYPE"],
          c.get("original-size", "-"), fg)
    pos = end + w * h * d * bps
EOF
}

# union_count ID: foreground pixels of the union of the nucleus masks of
# data sample ID, computed independently (pngtopam and numpy).
union_count() {
	local m
	for m in "$SET/$1"/masks/*.png; do
		pngtopam "$m" | pamtopnm
	done >"$TMP/masks.pnm"
	"$REFPY" - "$TMP/masks.pnm" <<'EOF'
import sys, numpy as np
data = open(sys.argv[1], "rb").read()
pos, union = 0, None
while pos < len(data):
    # a raw PGM as written by pamtopnm: "P5\nW H\nMAXVAL\n" then bytes
    magic, dims, maxval, rest = data[pos:].split(b"\n", 3)
    w, h = map(int, dims.split())
    hdr = len(magic) + len(dims) + len(maxval) + 3
    a = np.frombuffer(data, np.uint8, w * h, pos + hdr) > int(maxval) // 2
    union = a if union is None else union | a
    pos += hdr + w * h
print(int(union.sum()))
EOF
}

# run_to FILE CMD...: run CMD with stdout to FILE (stderr in $output).
run_to() {
	local out=$1
	shift
	run bash -c 'out=$1; shift; "$@" >"$out"' _ "$out" "$@"
}

# raster FILE: the raster bytes of the first image of a PAM, as hex.
raster() {
	"$REFPY" -c '
import sys
d = open(sys.argv[1], "rb").read()
print(d[d.index(b"ENDHDR\n") + 7:].hex())' "$1"
}

@test "data set folder: every sample, native size, ids sorted, RGB_MASK" {
	ingest-resize --quiet "$SET" >"$TMP/all.pam"
	describe "$TMP/all.pam" >"$TMP/desc"
	assert_equal "$(wc -l <"$TMP/desc")" 24
	# ids in strcmp order, exactly the sample folders
	cut -d' ' -f1 "$TMP/desc" >"$TMP/ids"
	LC_ALL=C sort -c "$TMP/ids"
	diff "$TMP/ids" <(LC_ALL=C ls "$SET")
	# every image RGB_MASK, maxval 255, original size = its size
	run awk '$3 != 255 || $4 != "RGB_MASK" ||
		$5 "x4" != $2 { print "bad: " $0 }' "$TMP/desc"
	assert_output ""
	# sizes of two samples as the PNG files have them
	run grep "^$FLUO " "$TMP/desc"
	assert_output --regexp "^$FLUO 256x256x4 255 RGB_MASK 256x256 [0-9]+$"
	run grep "^091944f1d2611c916b98c020bd066667e33f4639159b2a92407fe5a40788856d " "$TMP/desc"
	assert_output --regexp " 1024x1024x4 255 RGB_MASK 1024x1024 [0-9]+$"
}

@test "the mask is the union of the nucleus masks; the image is the PNG's RGB" {
	for id in $FLUO $HISTO; do
		ingest-resize "$SET/$id" >"$TMP/one.pam"
		run describe "$TMP/one.pam"
		assert_output --regexp "^$id [0-9x]+ 255 RGB_MASK [0-9x]+ $(union_count $id)$"
		# the image channels, byte for byte
		pamchannel -infile="$TMP/one.pam" 0 1 2 | pamtopnm -assume |
			cmp - <(pngtopam "$SET/$id/images/$id.png")
	done
}

@test "--size 128x128: every sample 128x128x4, masks binary, original size kept" {
	ingest-resize --size 128x128 "$SET" >"$TMP/small.pam"
	run pamfile -allimages "$TMP/small.pam"
	assert_equal "$(grep -c 'PAM, 128 by 128 by 4 maxval 255' <<<"$output")" 24
	describe "$TMP/small.pam" >"$TMP/desc"
	run awk '$2 != "128x128x4" { print "bad: " $0 }' "$TMP/desc"
	assert_output ""
	run grep "^$HISTO " "$TMP/desc"
	assert_output --regexp "^$HISTO 128x128x4 255 RGB_MASK 320x256 [0-9]+$"
	# mask values are only 0 and 255
	run "$REFPY" -c '
import sys
d = open(sys.argv[1], "rb").read()
pos, vals = 0, set()
while pos < len(d):
    e = d.index(b"ENDHDR\n", pos) + 7
    vals |= set(d[e + 3:e + 128 * 128 * 4:4])
    pos = e + 128 * 128 * 4
print(sorted(vals))' "$TMP/small.pam"
	assert_output "[0, 255]"
}

@test "resizing a constant image keeps it constant; 2x2 means exactly" {
	printf 'P2\n4 2\n255\n10 20 30 40\n50 60 70 80\n' >"$TMP/g.pgm"
	ingest-resize --channels 1 --size 2x1 "$TMP/g.pgm" >"$TMP/o.pam"
	# (10+20+50+60)/4 = 35, (30+40+70+80)/4 = 55
	run raster "$TMP/o.pam"
	assert_output "2337"
	pbmmake -white 7 5 | ingest-resize --size 3x2 --channels 1 >"$TMP/w.pam"
	run raster "$TMP/w.pam"
	assert_output "ffffffffffff"
}

@test "--channels 1: GRAYSCALE_MASK with Rec. 601 luminance" {
	ingest-resize --channels 1 "$SET/$HISTO" >"$TMP/g.pam"
	run describe "$TMP/g.pam"
	assert_output --regexp "^$HISTO 320x256x2 255 GRAYSCALE_MASK 320x256 [0-9]+$"
	pngtopam "$SET/$HISTO/images/$HISTO.png" >"$TMP/rgb.ppm"
	run "$REFPY" - "$TMP/rgb.ppm" "$TMP/g.pam" <<'EOF'
import sys, numpy as np
p = open(sys.argv[1], "rb").read()
rgb = np.frombuffer(p, np.uint8, 320 * 256 * 3, len(p) - 320 * 256 * 3)
rgb = rgb.reshape(-1, 3).astype(np.int64)
want = (299 * rgb[:, 0] + 587 * rgb[:, 1] + 114 * rgb[:, 2] + 500) // 1000
g = open(sys.argv[2], "rb").read()
e = g.index(b"ENDHDR\n") + 7
got = np.frombuffer(g, np.uint8, 320 * 256 * 2, e)[0::2]
print(int((got != want).sum()), int(want.min()) != int(want.max()))
EOF
	assert_output "0 True"
}

@test "--channels 3 replicates a gray image; default output is RGB" {
	printf 'P2\n2 1\n255\n7 200\n' >"$TMP/g.pgm"
	ingest-resize "$TMP/g.pgm" >"$TMP/o.pam"
	run raster "$TMP/o.pam"
	assert_output "070707c8c8c8"
	ingest-resize --channels 3 "$TMP/g.pgm" | cmp - "$TMP/o.pam"
	run describe "$TMP/o.pam"
	assert_output "g 2x1x3 255 RGB 2x1 -"
}

@test "image operands: PNG and Netpbm files, ids from the file names" {
	pngtopam "$SET/$HISTO/images/$HISTO.png" >"$TMP/histo.ppm"
	ingest-resize "$SET/$FLUO/images/$FLUO.png" "$TMP/histo.ppm" \
		"$SET/$HISTO/images/$HISTO.png" >"$TMP/o.pam"
	run describe "$TMP/o.pam"
	assert_line -n 0 "$FLUO 256x256x3 255 RGB 256x256 -"
	assert_line -n 1 "histo 320x256x3 255 RGB 320x256 -"
	assert_line -n 2 "$HISTO 320x256x3 255 RGB 320x256 -"
	assert_equal "${#lines[@]}" 3
	# the PNG and its PPM give the same pixels
	pamsplit "$TMP/o.pam" "$TMP/part-%d.pam"
	assert_equal "$(raster "$TMP/part-1.pam")" "$(raster "$TMP/part-2.pam")"
}

@test "sample depths and maxvals: 16-bit PNG keeps 65535, PBM becomes 0/255" {
	printf 'P2\n2 1\n65535\n1000 65535\n' | pnmtopng >"$TMP/d16.png"
	ingest-resize --channels 1 "$TMP/d16.png" >"$TMP/o.pam"
	run describe "$TMP/o.pam"
	assert_output "d16 2x1x1 65535 GRAYSCALE 2x1 -"
	run raster "$TMP/o.pam"
	assert_output "03e8ffff"
	printf 'P1\n3 1\n1 0 1\n' >"$TMP/b.pbm"
	ingest-resize --channels 1 "$TMP/b.pbm" >"$TMP/o.pam"
	run raster "$TMP/o.pam"
	assert_output "00ff00"
	# a PAM with maxval 1000 is rescaled to 65535
	printf 'P2\n1 1\n1000\n500\n' | ingest-resize --channels 1 >"$TMP/o.pam"
	run raster "$TMP/o.pam"
	assert_output "8000"
}

@test "--masks DIR joins DIR/ID.png or .pgm/.pbm/.pam to each image" {
	mkdir "$TMP/masks"
	ingest-resize "$SET/$FLUO" >"$TMP/dsb.pam"
	pamchannel -infile="$TMP/dsb.pam" 3 | pamtopnm -assume >"$TMP/masks/$FLUO.pgm"
	ingest-resize --masks "$TMP/masks" "$SET/$FLUO/images/$FLUO.png" >"$TMP/o.pam"
	cmp "$TMP/o.pam" "$TMP/dsb.pam"
	# as a PNG mask, with --channels 1
	pnmtopng "$TMP/masks/$FLUO.pgm" >"$TMP/masks/x.png"
	pngtopam "$SET/$FLUO/images/$FLUO.png" >"$TMP/x.ppm"
	ingest-resize --channels 1 --masks "$TMP/masks" "$TMP/x.ppm" >"$TMP/o.pam"
	run describe "$TMP/o.pam"
	assert_output "x 256x256x2 255 GRAYSCALE_MASK 256x256 $(union_count $FLUO)"
}

@test "--masks: a missing mask or one of another size is an error" {
	mkdir "$TMP/masks"
	printf 'P2\n3 2\n255\n1 2 3 4 5 6\n' >"$TMP/a.pgm"
	run ingest-resize --masks "$TMP/masks" "$TMP/a.pgm"
	assert_failure 1
	assert_one_error_line ingest-resize
	assert_output --partial "no mask $TMP/masks/a.png"
	printf 'P1\n2 2\n1 0 0 1\n' >"$TMP/masks/a.pbm"
	run ingest-resize --masks "$TMP/masks" "$TMP/a.pgm"
	assert_failure 1
	assert_one_error_line ingest-resize
	assert_output "ingest-resize: $TMP/masks/a.pbm: 2x2, image is 3x2"
	run ingest-resize --masks "$TMP/nowhere" "$TMP/a.pgm"
	assert_failure 1
	assert_one_error_line ingest-resize
}

@test "stdin: a multi-image stream, ids from its comments, masks kept" {
	ingest-resize "$SET/$FLUO" "$SET/$HISTO" >"$TMP/two.pam"
	ingest-resize --size 64x32 <"$TMP/two.pam" >"$TMP/o.pam"
	run describe "$TMP/o.pam"
	assert_line -n 0 --regexp "^$FLUO 64x32x4 255 RGB_MASK 256x256 [0-9]+$"
	assert_line -n 1 --regexp "^$HISTO 64x32x4 255 RGB_MASK 320x256 [0-9]+$"
	assert_equal "${#lines[@]}" 2
	# "-" is stdin too; a second pass keeps the first original size
	ingest-resize --size 16x16 - <"$TMP/o.pam" >"$TMP/o2.pam"
	run describe "$TMP/o2.pam"
	assert_line -n 1 --regexp "^$HISTO 16x16x4 255 RGB_MASK 320x256 [0-9]+$"
	# an image stream without ids stays without
	printf 'P2\n1 1\n255\n9\nP2\n1 1\n255\n8\n' | ingest-resize >"$TMP/o.pam"
	run describe "$TMP/o.pam"
	assert_output $'- 1x1x3 255 RGB 1x1 -\n- 1x1x3 255 RGB 1x1 -'
}

@test "other comments of a stream are carried through unchanged" {
	printf 'P7\n#id s1\n#note: hello  world\nWIDTH 1\nHEIGHT 1\nDEPTH 1\nMAXVAL 255\nTUPLTYPE GRAYSCALE\nENDHDR\nA' |
		ingest-resize --channels 1 >"$TMP/o.pam"
	run head -4 "$TMP/o.pam"
	assert_output $'P7\n#id s1\n#original-size 1x1\n#note: hello  world'
}

@test "empty input gives empty output" {
	run ingest-resize </dev/null
	assert_success
	assert_output ""
	run ingest-resize - </dev/null
	assert_success
	assert_output ""
}

@test "a truncated stream on stdin: one error line naming the image" {
	ingest-resize "$SET/$FLUO" "$SET/$HISTO" | head -c 300000 >"$TMP/cut.pam"
	run_to /dev/null ingest-resize - <"$TMP/cut.pam"
	assert_failure 1
	assert_one_error_line ingest-resize
	assert_output --regexp "^ingest-resize: stdin: image 2: truncated"
	# nothing half-written: exactly the first image is on stdout
	ingest-resize <"$TMP/cut.pam" >"$TMP/o.pam" 2>/dev/null || true
	run describe "$TMP/o.pam"
	assert_output --regexp "^$FLUO 256x256x4 "
	assert_equal "${#lines[@]}" 1
}

@test "a stream of an unaccepted tuple type is an error" {
	printf 'P7\nWIDTH 1\nHEIGHT 1\nDEPTH 4\nMAXVAL 255\nTUPLTYPE RGB_ALPHA\nENDHDR\nabcd' >"$TMP/a.pam"
	run ingest-resize "$TMP/a.pam"
	assert_failure 1
	assert_one_error_line ingest-resize
	assert_output --partial "image 1: tuple type 'RGB_ALPHA' not accepted"
}

@test "usage errors exit 2" {
	for args in "--size 128" "--size 0x5" "--size 5x" "--size axb" \
		"--size 99999x4" "--channels 2" "--channels 4" "--channels x" \
		"--bogus" "-z" "--size"; do
		run ingest-resize $args "$SET"
		assert_failure 2
		assert_line -n 0 --regexp "^ingest-resize: "
	done
	run ingest-resize "$SET" "$SET/$FLUO/images/$FLUO.png"
	assert_failure 2
	run ingest-resize --masks "$TMP" "$SET"
	assert_failure 2
}

@test "a missing or empty folder is an error" {
	run ingest-resize "$TMP/nowhere"
	assert_failure 1
	assert_one_error_line ingest-resize
	assert_output "ingest-resize: $TMP/nowhere: No such file or directory"
	mkdir "$TMP/empty"
	run ingest-resize "$TMP/empty"
	assert_failure 1
	assert_one_error_line ingest-resize
	assert_output "ingest-resize: $TMP/empty: no samples"
}

@test "a corrupt or truncated PNG is an error; nothing half-written" {
	mkdir -p "$TMP/set/$FLUO" "$TMP/set/$HISTO"
	cp -r "$SET/$FLUO"/* "$TMP/set/$FLUO/"
	cp -r "$SET/$HISTO"/* "$TMP/set/$HISTO/"
	head -c 2000 "$SET/$HISTO/images/$HISTO.png" >"$TMP/set/$HISTO/images/$HISTO.png"
	run_to /dev/null ingest-resize "$TMP/set"
	assert_failure 1
	assert_one_error_line ingest-resize
	assert_output "ingest-resize: $TMP/set/$HISTO/images/$HISTO.png: truncated PNG file"
	ingest-resize "$TMP/set" >"$TMP/o.pam" 2>/dev/null || true
	run describe "$TMP/o.pam"
	assert_output --regexp "^$FLUO 256x256x4 "
	# a damaged byte inside the compressed data
	cp "$SET/$HISTO/images/$HISTO.png" "$TMP/c.png"
	printf 'ZZZZ' | dd of="$TMP/c.png" bs=1 seek=2000 conv=notrunc 2>/dev/null
	run ingest-resize "$TMP/c.png"
	assert_failure 1
	assert_one_error_line ingest-resize
	assert_output --regexp "^ingest-resize: $TMP/c.png: corrupt PNG file: "
	# not a PNG at all, as a mask
	m=$(ls "$TMP/set/$FLUO/masks" | head -1)
	echo hello >"$TMP/set/$FLUO/masks/$m"
	run ingest-resize "$TMP/set/$FLUO"
	assert_failure 1
	assert_one_error_line ingest-resize
	assert_output "ingest-resize: $TMP/set/$FLUO/masks/$m: not a PNG file"
}

@test "a mask of another size is an error" {
	mkdir -p "$TMP/set/$HISTO"
	cp -r "$SET/$HISTO"/* "$TMP/set/$HISTO/"
	pngtopam "$SET/$FLUO/masks/$(ls "$SET/$FLUO/masks" | head -1)" |
		pnmtopng >"$TMP/set/$HISTO/masks/zz.png"
	run ingest-resize "$TMP/set"
	assert_failure 1
	assert_one_error_line ingest-resize
	assert_output "ingest-resize: $TMP/set/$HISTO/masks/zz.png: 256x256, image is 320x256"
}

@test "a sample folder without masks, masks folder or image is an error" {
	mkdir -p "$TMP/set/$FLUO"
	cp -r "$SET/$FLUO/images" "$TMP/set/$FLUO/"
	run ingest-resize "$TMP/set"
	assert_failure 1
	assert_one_error_line ingest-resize
	assert_output "ingest-resize: $TMP/set/$FLUO: no masks folder"
	mkdir "$TMP/set/$FLUO/masks"
	run ingest-resize "$TMP/set"
	assert_failure 1
	assert_one_error_line ingest-resize
	assert_output "ingest-resize: $TMP/set/$FLUO/masks: no masks"
	rm -r "$TMP/set/$FLUO/images"
	mkdir "$TMP/set/$FLUO/images"
	run ingest-resize "$TMP/set"
	assert_failure 1
	assert_one_error_line ingest-resize
	assert_output "ingest-resize: $TMP/set/$FLUO: no images/$FLUO.png"
}

@test "a write error exits 1" {
	run_to /dev/full ingest-resize "$SET/$FLUO"
	assert_failure 1
	assert_output --regexp "^ingest-resize: write error"
}

@test "--help, --version" {
	run ingest-resize --help
	assert_success
	for o in --size --channels --masks --quiet --help --version; do
		assert_output --partial -- "$o"
	done
	run ingest-resize --version
	assert_success
	assert_output --regexp "^ingest-resize unetpipe [0-9.]+$"
}

@test "the man page examples work" {
	cd "$TMP"
	ingest-resize --size 128x128 "$SET" >all.pam
	assert_equal "$(pamfile -allimages all.pam | grep -c RGB_MASK)" 24
	ingest-resize "$SET/$FLUO/images/$FLUO.png" | pamtopng >img.png
	[ -s img.png ]
	ingest-resize --size 128x128 --channels 1 "$SET/$FLUO/images/$FLUO.png" |
		pamfile | grep -q '128 by 128 by 1'
	mkdir masks
	ingest-resize "$SET/$FLUO" | pamchannel 3 | pamtopnm -assume >masks/"$FLUO".pgm
	cp "$SET/$FLUO/images/$FLUO.png" .
	ingest-resize --masks masks "$FLUO.png" >joined.pam
	pamfile joined.pam | grep -q 'Tuple type: RGB_MASK'

}

# ------------------------------------------- issue 11: hangs, lies, escapes

# gray_pam W H: a GRAYSCALE PAM header of W x H (raster not included).
gray_pam() {
	printf 'P7\nWIDTH %s\nHEIGHT %s\nDEPTH 1\nMAXVAL 255\nTUPLTYPE GRAYSCALE\nENDHDR\n' "$1" "$2"
}

@test "a NUL byte in a comment is refused with one line, not cut into the id" {
	{ printf 'P7\n#id a\0../b\n'; gray_pam 1 1 | tail -n +2; printf 'A'; } >"$TMP/nul.pam"
	run_to "$TMP/o.pam" ingest-resize - <"$TMP/nul.pam"
	assert_failure 1
	assert_one_error_line ingest-resize
	assert_output "ingest-resize: stdin: image 1: a header comment holds a NUL byte"
	[ ! -s "$TMP/o.pam" ]
}

@test "500,000 comment lines are read in linear time; a header over 1 MiB is refused at once" {
	{ printf 'P7\n#id many\n'; yes '#' | head -n 500000; gray_pam 1 1 | tail -n +2; printf 'A'; } >"$TMP/many.pam"
	# libnetpbm's parser took 9 s here (quadratic); ours a fraction of one
	run_to "$TMP/o.pam" timeout 4 ingest-resize --channels 1 "$TMP/many.pam"
	assert_success
	run describe "$TMP/o.pam"
	assert_output "many 1x1x1 255 GRAYSCALE 1x1 -"
	# 8 MB of comments: refused after 1 MiB (libnetpbm: 15 minutes)
	{ printf 'P7\n'; yes '#a comment line' | head -n 500000; gray_pam 1 1 | tail -n +2; printf 'A'; } >"$TMP/long.pam"
	run_to "$TMP/o.pam" timeout 4 ingest-resize "$TMP/long.pam"
	assert_failure 1
	assert_one_error_line ingest-resize
	assert_output "ingest-resize: $TMP/long.pam: image 1: header longer than 1048576 bytes"
	[ ! -s "$TMP/o.pam" ]
}

@test "an output over the readers' limits is refused before it is written" {
	# 16384x5462 gray is 89 M samples; as RGB 268,468,224, over 2^28
	{ gray_pam 16384 5462; head -c $((16384 * 5462)) /dev/zero; } >"$TMP/big.pam"
	run_to "$TMP/o.pam" ingest-resize "$TMP/big.pam"
	assert_failure 1
	assert_one_error_line ingest-resize
	assert_output "ingest-resize: $TMP/big.pam: image 1: the output, 16384x5462x3, would be over the limit of 268435456 samples that its readers accept (use --size or --channels 1)"
	[ ! -s "$TMP/o.pam" ]
	# what it may write, it writes
	ingest-resize --channels 1 --size 64x16 "$TMP/big.pam" >"$TMP/o.pam"
	run describe "$TMP/o.pam"
	assert_output "big 64x16x1 255 GRAYSCALE 16384x5462 -"
	rm "$TMP/big.pam"
}

@test "--masks: an id with '/', or '.' or '..', is refused, never joined into a path" {
	mkdir -p "$TMP/in/masks"
	printf 'P1\n1 1\n0\n' >"$TMP/in/secret.pbm"
	printf 'P1\n1 1\n0\n' >"$TMP/in/masks/ok.pbm"
	for id in ../secret . .. a/b; do
		{ printf 'P7\n#id %s\n' "$id"; gray_pam 1 1 | tail -n +2; printf 'A'; } >"$TMP/s.pam"
		run_to "$TMP/o.pam" ingest-resize --masks "$TMP/in/masks" - <"$TMP/s.pam"
		assert_failure 1
		assert_one_error_line ingest-resize
		assert_output "ingest-resize: stdin: image 1: id '$id' cannot name a file of $TMP/in/masks (empty, '.', '..' or with a '/')"
		[ ! -s "$TMP/o.pam" ]
	done
	{ printf 'P7\n#id ok\n'; gray_pam 1 1 | tail -n +2; printf 'A'; } >"$TMP/s.pam"
	ingest-resize --channels 1 --masks "$TMP/in/masks" - <"$TMP/s.pam" >"$TMP/o.pam"
	run describe "$TMP/o.pam"
	assert_output "ok 1x1x2 255 GRAYSCALE_MASK 1x1 1"
}

@test "an empty file operand is an error; an empty stdin stays an empty stream" {
	: >"$TMP/empty.png"
	printf '\n \n' >"$TMP/blank.pgm"
	for f in empty.png blank.pgm; do
		run ingest-resize "$TMP/$f"
		assert_failure 1
		assert_one_error_line ingest-resize
		assert_output "ingest-resize: $TMP/$f: empty file"
	done
	# the same file inside a data set folder was already an error
	mkdir -p "$TMP/set/$FLUO"
	cp -r "$SET/$FLUO"/* "$TMP/set/$FLUO/"
	: >"$TMP/set/$FLUO/images/$FLUO.png"
	run ingest-resize "$TMP/set"
	assert_failure 1
	assert_output "ingest-resize: $TMP/set/$FLUO/images/$FLUO.png: not a PNG file"
	run ingest-resize - </dev/null
	assert_success
	assert_output ""
}

@test "a FIFO as a mask, an image or a --masks file is refused at once, never waited on" {
	mkdir -p "$TMP/set/$FLUO"
	cp -r "$SET/$FLUO"/* "$TMP/set/$FLUO/"
	mkfifo "$TMP/set/$FLUO/masks/zz.png"
	run_to "$TMP/o.pam" timeout 10 ingest-resize "$TMP/set"
	assert_failure 1
	assert_one_error_line ingest-resize
	assert_output "ingest-resize: $TMP/set/$FLUO/masks/zz.png: not a regular file"
	rm "$TMP/set/$FLUO/masks/zz.png"
	mv "$TMP/set/$FLUO/images/$FLUO.png" "$TMP/img.png"
	mkfifo "$TMP/set/$FLUO/images/$FLUO.png"
	run_to "$TMP/o.pam" timeout 10 ingest-resize "$TMP/set"
	assert_failure 1
	assert_one_error_line ingest-resize
	assert_output "ingest-resize: $TMP/set/$FLUO/images/$FLUO.png: not a regular file"
	mkdir "$TMP/masks"
	mkfifo "$TMP/masks/img.pgm"
	run_to "$TMP/o.pam" timeout 10 ingest-resize --masks "$TMP/masks" "$TMP/img.png"
	assert_failure 1
	assert_one_error_line ingest-resize
	assert_output "ingest-resize: $TMP/masks/img.pgm: not a regular file"
}

@test "a FIFO named as an operand is a stream, read once (PNG or Netpbm)" {
	mkfifo "$TMP/fifo"
	cp "$SET/$FLUO/images/$FLUO.png" "$TMP/x.png"
	ingest-resize "$TMP/x.png" >"$TMP/want.pam"
	cat "$TMP/x.png" >"$TMP/fifo" &
	timeout 10 ingest-resize "$TMP/fifo" >"$TMP/o.pam"
	wait
	# the same image, its id the FIFO's name
	run describe "$TMP/o.pam"
	assert_output "fifo 256x256x3 255 RGB 256x256 -"
	assert_equal "$(raster "$TMP/o.pam")" "$(raster "$TMP/want.pam")"
	printf 'P2\n1 1\n255\n9\n' >"$TMP/fifo" &
	timeout 10 ingest-resize --channels 1 "$TMP/fifo" >"$TMP/o.pam"
	wait
	run raster "$TMP/o.pam"
	assert_output "09"
}

@test "a masks symlink loop is reported as such, not as a missing folder" {
	mkdir -p "$TMP/set/$FLUO"
	cp -r "$SET/$FLUO/images" "$TMP/set/$FLUO/"
	ln -s masks "$TMP/set/$FLUO/masks"
	run ingest-resize "$TMP/set"
	assert_failure 1
	assert_one_error_line ingest-resize
	assert_output "ingest-resize: $TMP/set/$FLUO/masks: Too many levels of symbolic links"
}

@test "standard output into an input is refused before anything is read; the input is intact" {
	printf 'P2\n2 1\n255\n7 200\n' >"$TMP/a.pgm"
	cp "$TMP/a.pgm" "$TMP/a.saved"
	run bash -c 'ingest-resize "$1" >>"$1"' _ "$TMP/a.pgm"
	assert_failure 1
	assert_one_error_line ingest-resize
	assert_output "ingest-resize: $TMP/a.pgm: is also the standard output"
	cmp "$TMP/a.pgm" "$TMP/a.saved"
	run bash -c 'ingest-resize <"$1" >>"$1"' _ "$TMP/a.pgm"
	assert_failure 1
	assert_output "ingest-resize: stdin: is also the standard output"
	cmp "$TMP/a.pgm" "$TMP/a.saved"
	# a mask of a data set folder
	mkdir -p "$TMP/set/$FLUO"
	cp -r "$SET/$FLUO"/* "$TMP/set/$FLUO/"
	m=$(ls "$TMP/set/$FLUO/masks" | head -1)
	cp "$TMP/set/$FLUO/masks/$m" "$TMP/m.saved"
	run bash -c 'ingest-resize "$1" >>"$2"' _ "$TMP/set" "$TMP/set/$FLUO/masks/$m"
	assert_failure 1
	assert_output "ingest-resize: $TMP/set/$FLUO/masks/$m: is also the standard output"
	cmp "$TMP/set/$FLUO/masks/$m" "$TMP/m.saved"
}
