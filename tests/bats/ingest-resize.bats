#!/usr/bin/env bats
# ingest-resize: Data Science Bowl folders, image files and streams to PAM.

load helpers
source "$FIXTURES/score-pam.bash"

SET="$DATA/stage1_train"
FLUO=16c3d5935ba94b720becc24b7a05741c26149e221e3401924080f41e2f891368
HISTO=8e507d58f4c27cd2a82bee79fe27b069befd62a46fdaed20970a95a2ba819c7b

# describe FILE: one line per image of a PAM stream:
# "id WxHxD maxval TUPLTYPE original-size foreground" (foreground: count
# of mask pixels > maxval/2 for *_MASK, "pixels:objects" for *_LABEL (the
# pixels of a label not 0, the distinct labels not 0), else -; missing
# id/size: -).
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
    t = a[:, :, -1]
    fg = str(int((t > m // 2).sum())) if f["TUPLTYPE"].endswith("_MASK") else "-"
    if f["TUPLTYPE"].endswith("_LABEL"):
        fg = "%d:%d" % ((t != 0).sum(), len(set(t[t != 0].tolist())))
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

# dsb_labels ID: the labels of data sample ID computed independently
# (pngtopam and numpy): mask file K in name order is label K, a pixel of
# several masks keeps the first; prints "pixels:objects" then the labels
# as hex bytes (all are below 256 in the sample data).
dsb_labels() {
	local m
	for m in "$SET/$1"/masks/*.png; do
		pngtopam "$m" | pamtopnm
	done >"$TMP/masks.pnm"
	"$REFPY" - "$TMP/masks.pnm" <<'EOF'
import sys, numpy as np
data = open(sys.argv[1], "rb").read()
pos, k, lab = 0, 0, None
while pos < len(data):
    magic, dims, maxval, rest = data[pos:].split(b"\n", 3)
    w, h = map(int, dims.split())
    hdr = len(magic) + len(dims) + len(maxval) + 3
    a = np.frombuffer(data, np.uint8, w * h, pos + hdr) > int(maxval) // 2
    k += 1
    lab = np.zeros(w * h, np.int64) if lab is None else lab
    lab[a & (lab == 0)] = k
    pos += hdr + w * h
print("%d:%d" % ((lab != 0).sum(), len(set(lab[lab != 0].tolist()))))
print(bytes(lab.astype(np.uint8).tolist()).hex())
EOF
}

# label_hex FILE: the last channel of the first image of a PAM (maxval
# 255 or less), as hex.
label_hex() {
	"$REFPY" -c '
import sys
d = open(sys.argv[1], "rb").read()
e = d.index(b"ENDHDR\n")
f = dict(l.split(" ", 1) for l in d[:e].decode().split("\n") if " " in l and l[0] != "#")
w, h, n = (int(f[k]) for k in ("WIDTH", "HEIGHT", "DEPTH"))
print(d[e + 7:e + 7 + w * h * n][n - 1::n].hex())' "$1"
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

@test "data set folder: every sample, native size, ids sorted, RGB_LABEL" {
	ingest-resize --quiet "$SET" >"$TMP/all.pam"
	describe "$TMP/all.pam" >"$TMP/desc"
	assert_equal "$(wc -l <"$TMP/desc")" 24
	# ids in strcmp order, exactly the sample folders
	cut -d' ' -f1 "$TMP/desc" >"$TMP/ids"
	LC_ALL=C sort -c "$TMP/ids"
	diff "$TMP/ids" <(LC_ALL=C ls "$SET")
	# every image RGB_LABEL, maxval 255 (at most 250 nuclei), original
	# size = its size
	run awk '$3 != 255 || $4 != "RGB_LABEL" ||
		$5 "x4" != $2 { print "bad: " $0 }' "$TMP/desc"
	assert_output ""
	# sizes of two samples as the PNG files have them
	run grep "^$FLUO " "$TMP/desc"
	assert_output --regexp "^$FLUO 256x256x4 255 RGB_LABEL 256x256 [0-9]+:11$"
	run grep "^091944f1d2611c916b98c020bd066667e33f4639159b2a92407fe5a40788856d " "$TMP/desc"
	assert_output --regexp " 1024x1024x4 255 RGB_LABEL 1024x1024 [0-9]+:[0-9]+$"
}

@test "issue 14: the labels are the nucleus masks, the K-th file by name label K" {
	for id in $FLUO $HISTO; do
		ingest-resize "$SET/$id" >"$TMP/one.pam"
		dsb_labels $id >"$TMP/want"
		run describe "$TMP/one.pam"
		assert_output --regexp "^$id [0-9x]+ 255 RGB_LABEL [0-9x]+ $(head -1 "$TMP/want")$"
		assert_equal "$(label_hex "$TMP/one.pam")" "$(tail -1 "$TMP/want")"
		# the image channels, byte for byte
		pamchannel -infile="$TMP/one.pam" 0 1 2 | pamtopnm -assume |
			cmp - <(pngtopam "$SET/$id/images/$id.png")
	done
}

# dsb_folder DIR W H: a sample folder DIR (id its name) with a W x H gray
# image of values 10, 20, ... (mod 256; as PNG) and an empty masks folder.
dsb_folder() {
	local id=${1##*/} v=() i
	mkdir -p "$1/images" "$1/masks"
	for ((i = 0; i < $2 * $3; i++)); do
		v+=($((10 * (i + 1) % 256)))
	done
	printf 'P2\n%d %d\n255\n%s\n' "$2" "$3" "${v[*]}" | pnmtopng >"$1/images/$id.png"
}

# mask FILE W H P...: a binary 8-bit PNG mask, 255 at the pixel indexes P.
mask() {
	local f=$1 w=$2 h=$3 v=() i p
	shift 3
	for ((i = 0; i < w * h; i++)); do
		v[i]=0
	done
	for p in "$@"; do
		v[p]=255
	done
	printf 'P2\n%d %d\n255\n%s\n' "$w" "$h" "${v[*]}" | pnmtopng >"$f"
}

@test "issue 14: a hand-made folder: labels in name order, a shared pixel keeps the first mask's" {
	dsb_folder "$TMP/set/s" 3 2
	mask "$TMP/set/s/masks/b.png" 3 2 1 2
	mask "$TMP/set/s/masks/a.png" 3 2 0 1
	mask "$TMP/set/s/masks/c.png" 3 2 5
	mask "$TMP/set/s/masks/d-empty.png" 3 2
	ingest-resize --channels 1 "$TMP/set" >"$TMP/o.pam"
	run describe "$TMP/o.pam"
	assert_output "s 3x2x2 255 GRAYSCALE_LABEL 3x2 4:3"
	# a = 1 on pixels 0 and 1; b = 2 on 1 (a's already) and 2; c = 3 on 5
	run raster "$TMP/o.pam"
	assert_output "0a0114011e02280032003c03"
	# --semantic: the union, 0 or 255, as before
	ingest-resize --channels 1 --semantic "$TMP/set" >"$TMP/o.pam"
	run describe "$TMP/o.pam"
	assert_output "s 3x2x2 255 GRAYSCALE_MASK 3x2 4"
	run raster "$TMP/o.pam"
	assert_output "0aff14ff1eff280032003cff"
}

@test "issue 14: --semantic gives the bytes of the old union masks" {
	# sha256 of the output of the previous ingest-resize (before *_LABEL)
	run bash -c 'ingest-resize --semantic "$1" | sha256sum' _ "$SET"
	assert_output "cabb453c02279cc8ec0cade04061a1f8d8377d6c8b1b75c6a91614db6288fa0d  -"
	run bash -c 'ingest-resize --semantic --size 128x128 "$1" | sha256sum' _ "$SET"
	assert_output "17c9980a5970bf5f2946e94d6677a20fd7a9232bc5bede5c2a05332377ac08fd  -"
	run bash -c 'ingest-resize --semantic --channels 1 --size 64x48 "$1" | sha256sum' _ "$SET"
	assert_output "e61f10ecd944c12193f26aa3a446e126fd31f294dafbe1e7c505fa757e87c9b0  -"
	# --semantic on the *_LABEL stream gives the same union
	ingest-resize "$SET" >"$TMP/labels.pam"
	ingest-resize --semantic "$TMP/labels.pam" | sha256sum >"$TMP/sum"
	assert_equal "$(cat "$TMP/sum")" "cabb453c02279cc8ec0cade04061a1f8d8377d6c8b1b75c6a91614db6288fa0d  -"
}

@test "issue 14: a *_LABEL stream given back keeps its labels, byte for byte" {
	# labels below and above maxval / 2 stay as they are
	pam 3 1 255 GRAYSCALE_LABEL id=x 10 1 20 200 30 0 |
		ingest-resize --channels 1 >"$TMP/o.pam"
	run describe "$TMP/o.pam"
	assert_output "x 3x1x2 255 GRAYSCALE_LABEL 3x1 2:2"
	run raster "$TMP/o.pam"
	assert_output "0a0114c81e00"
	pam 2 1 65535 GRAYSCALE_LABEL id=y 257 300 514 0 | ingest-resize --channels 1 >"$TMP/o.pam"
	run raster "$TMP/o.pam"
	assert_output "0101012c02020000"
	ingest-resize "$SET" >"$TMP/labels.pam"
	ingest-resize <"$TMP/labels.pam" | cmp - "$TMP/labels.pam"
	ingest-resize --channels 1 "$SET/$FLUO" >"$TMP/g.pam"
	ingest-resize --channels 1 "$TMP/g.pam" | cmp - "$TMP/g.pam"
}

@test "issue 14: 300 nuclei: maxval 65535, the image exactly x257, labels 1..300" {
	dsb_folder "$TMP/s" 20 15
	# mask file i (m000 to m299) has the one pixel 299 - i (a loop in
	# python: bash loops are slow under bats)
	"$REFPY" - "$TMP/s/masks" <<'EOF'
import sys, subprocess
for i in range(300):
    v = ["0"] * 300
    v[299 - i] = "255"
    pgm = "P2\n20 15\n255\n" + " ".join(v) + "\n"
    png = subprocess.run(["pnmtopng"], input=pgm.encode(), capture_output=True,
                         check=True).stdout
    open("%s/m%03d.png" % (sys.argv[1], i), "wb").write(png)
EOF
	ingest-resize --channels 1 "$TMP/s" >"$TMP/o.pam"
	run describe "$TMP/o.pam"
	assert_output "s 20x15x2 65535 GRAYSCALE_LABEL 20x15 300:300"
	run "$REFPY" - "$TMP/o.pam" "$TMP/s/images/s.png" <<'EOF'
import sys, subprocess, numpy as np
d = open(sys.argv[1], "rb").read()
a = np.frombuffer(d[d.index(b"ENDHDR\n") + 7:], ">u2").reshape(-1, 2)
p = subprocess.run(["pngtopam", sys.argv[2]], capture_output=True).stdout
img = np.frombuffer(p[-300:], np.uint8).astype(np.int64)
# pixel 299 - i is in mask file i, the (i+1)-th: label i + 1 = 300 - pixel
print((a[:, 0] == img * 257).all(), (a[:, 1] == 300 - np.arange(300)).all())
EOF
	assert_output "True True"
}

@test "issue 14: more than 65535 mask files: one error line naming the folder, no output" {
	dsb_folder "$TMP/s" 2 1
	(cd "$TMP/s/masks" && seq -f 'm%05g.png' 0 65535 | xargs touch)
	run_to "$TMP/o.pam" ingest-resize "$TMP/s"
	assert_failure 1
	assert_one_error_line ingest-resize
	assert_output "ingest-resize: $TMP/s/masks: 65536 masks, more than the 65535 labels a sample can hold (--semantic joins them into one mask)"
	[ ! -s "$TMP/o.pam" ]
}

@test "issue 14: an empty masks folder is an image without nuclei: zero labels, not an error" {
	dsb_folder "$TMP/set/s" 3 1
	ingest-resize --channels 1 "$TMP/set" >"$TMP/o.pam"
	run describe "$TMP/o.pam"
	assert_output "s 3x1x2 255 GRAYSCALE_LABEL 3x1 0:0"
	run raster "$TMP/o.pam"
	assert_output "0a0014001e00"
	ingest-resize --channels 1 --semantic "$TMP/set" >"$TMP/o.pam"
	run raster "$TMP/o.pam"
	assert_output "0a0014001e00"
}

@test "issue 14: --size resizes labels by nearest neighbour: only labels of the source" {
	# 4x2 labels 1 2 3 4 / 5 6 7 8 to 2x1: the pixels under the centres
	# (1, 0) and (3, 0) (row floor(0.5 * 2 / 1) = 1): labels 6 and 8
	pam 4 2 255 GRAYSCALE_LABEL id=l 0 1 0 2 0 3 0 4 0 5 0 6 0 7 0 8 >"$TMP/l.pam"
	ingest-resize --channels 1 --size 2x1 "$TMP/l.pam" >"$TMP/o.pam"
	run raster "$TMP/o.pam"
	assert_output "00060008"
	# enlarged 2x1 -> 4x3: each label repeated, never mixed
	pam 2 1 255 GRAYSCALE_LABEL id=l 0 7 0 9 >"$TMP/l.pam"
	ingest-resize --channels 1 --size 4x3 "$TMP/l.pam" >"$TMP/o.pam"
	run label_hex "$TMP/o.pam"
	assert_output "070709090707090907070909"
	# a real sample to 100x77: every label of the output is one of the
	# source's, and small nuclei may vanish
	ingest-resize "$SET/$FLUO" >"$TMP/full.pam"
	ingest-resize --size 100x77 "$SET/$FLUO" >"$TMP/small.pam"
	run "$REFPY" -c '
import sys
def labels(p):
    d = open(p, "rb").read()
    return set(d[d.index(b"ENDHDR\n") + 7:][3::4]) - {0}
a, b = labels(sys.argv[1]), labels(sys.argv[2])
print(b <= a, len(b) > 5)' "$TMP/full.pam" "$TMP/small.pam"
	assert_output "True True"
	run describe "$TMP/small.pam"
	assert_output --regexp "^$FLUO 100x77x4 255 RGB_LABEL 256x256 [0-9]+:[0-9]+$"
}

@test "issue 15: --scale F keeps the aspect: 1272x603 is 636x302 at 0.5, 318x151 at 0.25" {
	WIDE=cb4df20a83b2f38b394c67f1d9d4aef29f9794d5345da3576318374ec3a11490
	ingest-resize "$SET/$WIDE" >"$TMP/full.pam"
	for f in 0.5:636x302 0.25:318x151 2:2544x1206; do
		ingest-resize --scale "${f%%:*}" "$SET/$WIDE" >"$TMP/o.pam"
		run describe "$TMP/o.pam"
		assert_output --regexp "^$WIDE ${f#*:}x4 255 RGB_LABEL 1272x603 [0-9]+:[0-9]+$"
		# the resampling of --size at the scaled size, byte for byte:
		# images by area or bilinearly, labels by nearest neighbour
		ingest-resize --size "${f#*:}" "$SET/$WIDE" | cmp - "$TMP/o.pam"
	done
	# only labels of the source, most nuclei kept at 0.5
	ingest-resize --scale 0.5 "$SET/$WIDE" >"$TMP/half.pam"
	run "$REFPY" -c '
import sys
def labels(p):
    d = open(p, "rb").read()
    return set(d[d.index(b"ENDHDR\n") + 7:][3::4]) - {0}
a, b = labels(sys.argv[1]), labels(sys.argv[2])
print(b <= a, len(b) >= 0.9 * len(a))' "$TMP/full.pam" "$TMP/half.pam"
	assert_output "True True"
	# a factor of 1 changes nothing; a stream already resized keeps its
	# first original size
	ingest-resize --scale 1 "$SET/$WIDE" | cmp - "$TMP/full.pam"
	ingest-resize --scale 0.25 "$TMP/half.pam" >"$TMP/o.pam"
	run describe "$TMP/o.pam"
	assert_output --regexp "^$WIDE 159x76x4 255 RGB_LABEL 1272x603 "
}

@test "issue 15: --scale rounds each side, a half up, to at least 1 pixel" {
	printf 'P2\n10 3\n255\n' >"$TMP/g.pgm"
	seq 30 >>"$TMP/g.pgm"
	# 10 x 0.35 = 3.5 -> 4 (not 3 by the binary error of 0.35), 3 x 0.35 =
	# 1.05 -> 1; 10 x 0.05 = 0.5 -> 1; 0.001 -> 1x1; 10 x 0.15 = 1.5 -> 2,
	# 3 x 0.15 = 0.45 -> 1
	for f in 0.35:4x1 0.05:1x1 0.001:1x1 0.15:2x1 1.25:13x4 3:30x9; do
		ingest-resize --channels 1 --scale "${f%%:*}" "$TMP/g.pgm" >"$TMP/o.pam"
		run describe "$TMP/o.pam"
		assert_output "g ${f#*:}x1 255 GRAYSCALE 10x3 -"
	done
	# the output resampled as --size resamples it
	ingest-resize --channels 1 --scale 0.35 "$TMP/g.pgm" |
		cmp - <(ingest-resize --channels 1 --size 4x1 "$TMP/g.pgm")
}

@test "issue 15: --scale: bad factors are usage errors, an output over the limits one line" {
	for bad in 0 -0.5 -1 nan inf x 0.5x "" 1e10 32769 1e-400; do
		run ingest-resize --scale "$bad" "$SET"
		assert_failure 2
		assert_line -n 0 --regexp "^ingest-resize: --scale: ('.*' is not a number|.* is out of range \(0, 32768\])$"
		assert_line -n 1 "Try 'ingest-resize --help' for more information."
	done
	run ingest-resize --scale 0.5 --size 64x64 "$SET"
	assert_failure 2
	assert_line -n 0 "ingest-resize: --size and --scale cannot be used together"
	# 1024x1024 at 40: 40960 a side, over 32768
	BIG=091944f1d2611c916b98c020bd066667e33f4639159b2a92407fe5a40788856d
	run_to "$TMP/o.pam" ingest-resize --scale 40 "$SET/$BIG"
	assert_failure 1
	assert_one_error_line ingest-resize
	assert_output "ingest-resize: $SET/$BIG: the output, 40960x40960x4, would be over the limit of 268435456 samples that its readers accept (use a smaller --scale or --channels 1)"
	[ ! -s "$TMP/o.pam" ]
}

@test "--semantic: the mask is the union of the nucleus masks; the image is the PNG's RGB" {
	for id in $FLUO $HISTO; do
		ingest-resize --semantic "$SET/$id" >"$TMP/one.pam"
		run describe "$TMP/one.pam"
		assert_output --regexp "^$id [0-9x]+ 255 RGB_MASK [0-9x]+ $(union_count $id)$"
		# the image channels, byte for byte
		pamchannel -infile="$TMP/one.pam" 0 1 2 | pamtopnm -assume |
			cmp - <(pngtopam "$SET/$id/images/$id.png")
	done
}

@test "--size 128x128 --semantic: every sample 128x128x4, masks binary, original size kept" {
	ingest-resize --semantic --size 128x128 "$SET" >"$TMP/small.pam"
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

@test "--channels 1: GRAYSCALE_LABEL with Rec. 601 luminance" {
	ingest-resize --channels 1 "$SET/$HISTO" >"$TMP/g.pam"
	run describe "$TMP/g.pam"
	assert_output --regexp "^$HISTO 320x256x2 255 GRAYSCALE_LABEL 320x256 [0-9]+:[0-9]+$"
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
	assert_output "x 256x256x2 255 GRAYSCALE_LABEL 256x256 $(union_count $FLUO):11"
	# a binary mask (the union) gives the *_MASK sample of --semantic
	ingest-resize --semantic "$SET/$FLUO" >"$TMP/dsb.pam"
	pamchannel -infile="$TMP/dsb.pam" 3 | pamtopnm -assume >"$TMP/masks/$FLUO.pgm"
	ingest-resize --masks "$TMP/masks" "$SET/$FLUO/images/$FLUO.png" | cmp - "$TMP/dsb.pam"
}

@test "issue 14: --masks: a 16-bit label image gives *_LABEL samples, no longer an empty mask" {
	mkdir "$TMP/masks"
	printf 'P2\n3 2\n255\n1 2 3 4 5 6\n' >"$TMP/a.pgm"
	printf 'P2\n3 2\n65535\n0 1 1 0 300 2\n' | pnmtopng >"$TMP/masks/a.png"
	run_to "$TMP/o.pam" ingest-resize --channels 1 --masks "$TMP/masks" "$TMP/a.pgm"
	assert_success
	run describe "$TMP/o.pam"
	assert_output "a 3x2x2 65535 GRAYSCALE_LABEL 3x2 4:3"
	# the image x257, the labels as they are
	run raster "$TMP/o.pam"
	assert_output "010100000202000103030001040400000505012c06060002"
	# the same as a 16-bit PGM
	printf 'P2\n3 2\n65535\n0 1 1 0 300 2\n' >"$TMP/masks/a.pgm"
	rm "$TMP/masks/a.png"
	ingest-resize --channels 1 --masks "$TMP/masks" "$TMP/a.pgm" | cmp - "$TMP/o.pam"
	# --semantic: the union of the labels as a mask
	ingest-resize --channels 1 --semantic --masks "$TMP/masks" "$TMP/a.pgm" >"$TMP/o.pam"
	run raster "$TMP/o.pam"
	assert_output "010002ff03ff040005ff06ff"
	run describe "$TMP/o.pam"
	assert_output "a 3x2x2 255 GRAYSCALE_MASK 3x2 4"
}

@test "issue 14: --mask-kind: auto, binary and labels on the same files" {
	mkdir "$TMP/masks"
	printf 'P2\n2 1\n255\n7 9\n' >"$TMP/a.pgm"
	# one object labelled 1 in a 16-bit file: a label image (auto)
	printf 'P2\n2 1\n65535\n1 0\n' | pnmtopng >"$TMP/masks/a.png"
	ingest-resize --channels 1 --masks "$TMP/masks" "$TMP/a.pgm" >"$TMP/o.pam"
	run describe "$TMP/o.pam"
	assert_output "a 2x1x2 255 GRAYSCALE_LABEL 2x1 1:1"
	run raster "$TMP/o.pam"
	assert_output "07010900"
	# binary: foreground above maxval / 2, as for any mask: none here
	ingest-resize --channels 1 --mask-kind binary --masks "$TMP/masks" "$TMP/a.pgm" >"$TMP/o.pam"
	run raster "$TMP/o.pam"
	assert_output "07000900"
	# 0 and 255 in 8 bits: a binary mask (auto)
	printf 'P2\n2 1\n255\n0 255\n' | pnmtopng >"$TMP/masks/a.png"
	ingest-resize --channels 1 --mask-kind auto --masks "$TMP/masks" "$TMP/a.pgm" >"$TMP/o.pam"
	run describe "$TMP/o.pam"
	assert_output "a 2x1x2 255 GRAYSCALE_MASK 2x1 1"
	# labels: the value 255 is object 255
	ingest-resize --channels 1 -k labels --masks "$TMP/masks" "$TMP/a.pgm" >"$TMP/o.pam"
	run describe "$TMP/o.pam"
	assert_output "a 2x1x2 255 GRAYSCALE_LABEL 2x1 1:1"
	run raster "$TMP/o.pam"
	assert_output "070009ff"
	# an RGB mask is binary (auto); as labels it is an error
	printf 'P3\n2 1\n255\n0 0 0 5 200 0\n' >"$TMP/masks/a.ppm"
	rm "$TMP/masks/a.png"
	pnmtopng "$TMP/masks/a.ppm" >"$TMP/masks/a.png"
	ingest-resize --channels 1 --masks "$TMP/masks" "$TMP/a.pgm" >"$TMP/o.pam"
	run raster "$TMP/o.pam"
	assert_output "070009ff"
	run_to "$TMP/o.pam" ingest-resize --mask-kind labels --masks "$TMP/masks" "$TMP/a.pgm"
	assert_failure 1
	assert_one_error_line ingest-resize
	assert_output "ingest-resize: $TMP/masks/a.png: not a label image: its 3 channels differ (--mask-kind binary reads it as a mask)"
	[ ! -s "$TMP/o.pam" ]
	# an all-zero mask: binary, empty
	printf 'P2\n2 1\n65535\n0 0\n' | pnmtopng >"$TMP/masks/a.png"
	run bash -c 'ingest-resize --channels 1 --masks "$1" "$2" | pamfile' _ "$TMP/masks" "$TMP/a.pgm"
	assert_output --partial "GRAYSCALE_MASK"
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
	assert_line -n 0 --regexp "^$FLUO 64x32x4 255 RGB_LABEL 256x256 [0-9]+:[0-9]+$"
	assert_line -n 1 --regexp "^$HISTO 64x32x4 255 RGB_LABEL 320x256 [0-9]+:[0-9]+$"
	assert_equal "${#lines[@]}" 2
	# "-" is stdin too; a second pass keeps the first original size
	ingest-resize --size 16x16 - <"$TMP/o.pam" >"$TMP/o2.pam"
	run describe "$TMP/o2.pam"
	assert_line -n 1 --regexp "^$HISTO 16x16x4 255 RGB_LABEL 320x256 [0-9]+:[0-9]+$"
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
	run ingest-resize --masks "$TMP" --mask-kind bogus "$SET/$FLUO/images/$FLUO.png"
	assert_failure 2
	assert_line -n 0 "ingest-resize: --mask-kind: 'bogus' is not auto, binary or labels"
	run ingest-resize --mask-kind labels "$SET"
	assert_failure 2
	assert_line -n 0 "ingest-resize: --mask-kind is for --masks"
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
	assert_output "ingest-resize: $TMP/set/$FLUO/masks/$m: not a PNG, TIFF, JPEG or Netpbm file"
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

@test "a sample folder without masks folder or image is an error" {
	mkdir -p "$TMP/set/$FLUO"
	cp -r "$SET/$FLUO/images" "$TMP/set/$FLUO/"
	run ingest-resize "$TMP/set"
	assert_failure 1
	assert_one_error_line ingest-resize
	assert_output "ingest-resize: $TMP/set/$FLUO: no masks folder"
	mkdir "$TMP/set/$FLUO/masks"
	rm -r "$TMP/set/$FLUO/images"
	mkdir "$TMP/set/$FLUO/images"
	run ingest-resize "$TMP/set"
	assert_failure 1
	assert_one_error_line ingest-resize
	assert_output "ingest-resize: $TMP/set/$FLUO: no images/$FLUO.png (or .tif, .tiff, .pgm, .pbm, .pam, .jpg, .jpeg)"
	# a masks folder that is a file
	rmdir "$TMP/set/$FLUO/masks"
	cp -r "$SET/$FLUO/images" "$TMP/set/$FLUO/"
	touch "$TMP/set/$FLUO/masks"
	run ingest-resize "$TMP/set"
	assert_failure 1
	assert_output "ingest-resize: $TMP/set/$FLUO/masks: not a folder"
}

@test "a write error exits 1" {
	run_to /dev/full ingest-resize "$SET/$FLUO"
	assert_failure 1
	assert_output --regexp "^ingest-resize: write error"
}

@test "--help, --version" {
	run ingest-resize --help
	assert_success
	for o in --size --scale --channels --masks --mask-kind --semantic --quiet --help --version; do
		assert_output --partial -- "$o"
	done
	run ingest-resize --version
	assert_success
	assert_output --regexp "^ingest-resize unetpipe [0-9.]+$"
}

@test "the man page examples work" {
	cd "$TMP"
	ingest-resize --size 128x128 "$SET" >all.pam
	assert_equal "$(pamfile -allimages all.pam | grep -c RGB_LABEL)" 24
	ingest-resize --semantic --size 128x128 "$SET" >masks.pam
	assert_equal "$(pamfile -allimages masks.pam | grep -c RGB_MASK)" 24
	ingest-resize "$SET/$FLUO/images/$FLUO.png" | pamtopng >img.png
	[ -s img.png ]
	ingest-resize --size 128x128 --channels 1 "$SET/$FLUO/images/$FLUO.png" |
		pamfile | grep -q '128 by 128 by 1'
	mkdir masks
	ingest-resize "$SET/$FLUO" | pamchannel 3 | pamtopnm -assume >masks/"$FLUO".pgm
	cp "$SET/$FLUO/images/$FLUO.png" .
	ingest-resize --masks masks "$FLUO.png" >joined.pam
	pamfile joined.pam | grep -q 'Tuple type: RGB_LABEL'
	# the label PNGs that napari and Fiji open, read back as the same
	# samples
	mkdir -p out labels
	ingest-resize "$SET" | save-images --dir out >saved.txt
	assert_equal "$(wc -l <saved.txt)" 48
	for f in out/*-labels.png; do
		mv "$f" labels/"$(basename "$f" -labels.png)".png
	done
	ingest-resize --masks labels out/*.png >again.pam
	ingest-resize "$SET" | cmp - again.pam
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
	assert_output "ingest-resize: $TMP/set/$FLUO/images/$FLUO.png: empty file"
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

# png FILE V...: a 2x1 8-bit grey PNG of the values V.
png() {
	local f=$1
	shift
	pam 2 1 255 GRAYSCALE "$@" | pamtopnm | pnmtopng >"$f"
}

@test "issue 12: ids are the file names as they are, and save-images names its files by them again" {
	mkdir "$TMP/in" "$TMP/out"
	long=$(printf 'L%.0s' {1..236})
	names=('DAPI well A1 (z3)' 'µm' '-A1' "it's \$x" "$long")
	for i in "${!names[@]}"; do
		png "$TMP/in/${names[i]}.png" "$i" 9
	done
	ingest-resize "$TMP/in/DAPI well A1 (z3).png" "$TMP/in/µm.png" "$TMP/in/-A1.png" \
		"$TMP/in/it's \$x.png" "$TMP/in/$long.png" >"$TMP/got"
	run grep -a '^#id ' "$TMP/got"
	assert_output "$(printf '#id %s\n' "${names[@]}")"
	run save-images --dir "$TMP/out" "$TMP/got"
	assert_success
	assert_output "$(printf "$TMP/out/%s.png\n" "${names[@]}")"
	run diff <(ls -A "$TMP/in") <(ls -A "$TMP/out")
	assert_success
	for i in "${!names[@]}"; do
		run bash -c 'pngtopam "$1" | tail -c 6 | od -An -tu1' _ "$TMP/out/${names[i]}.png"
		assert_equal "$(echo $output)" "$i $i $i 9 9 9"
	done
}

@test "issue 12: a newline in a file name is read; the id has '_' in its place, and so has the saved file" {
	mkdir "$TMP/in" "$TMP/out"
	png "$TMP/in/a"$'\n'"b.png" 1 2
	ingest-resize "$TMP/in/a"$'\n'"b.png" >"$TMP/got"
	run grep -a '^#id ' "$TMP/got"
	assert_output "#id a_b"
	run save-images --dir "$TMP/out" "$TMP/got"
	assert_output "$TMP/out/a_b.png"
	# it collides with a_b.png, before anything is written; the message
	# stays one line: its newline is written '?'
	png "$TMP/in/a_b.png" 3 4
	echo old >"$TMP/out.pam"
	run bash -c 'ingest-resize "$1" "$2" >>"$3"' _ "$TMP/in/a_b.png" "$TMP/in/a"$'\n'"b.png" "$TMP/out.pam"
	assert_failure 1
	assert_one_error_line ingest-resize
	assert_output "ingest-resize: $TMP/in/a_b.png and $TMP/in/a?b.png give the same id 'a_b'"
	run cat "$TMP/out.pam"
	assert_output old
}

# refused_ids WANT ARG...: ingest-resize ARG... appending to a file fails
# with the one line WANT and writes nothing.
refused_ids() {
	local want=$1
	shift
	echo old >"$TMP/out.pam"
	cp "$TMP/out.pam" "$TMP/out.saved"
	run bash -c 'out=$1; shift; ingest-resize "$@" >>"$out"' _ "$TMP/out.pam" "$@"
	assert_failure 1
	assert_one_error_line ingest-resize
	assert_output "$want"
	cmp "$TMP/out.pam" "$TMP/out.saved"
}

@test "issue 12: two inputs of one id are refused before any image is read: one line naming both, nothing written" {
	mkdir "$TMP/p1" "$TMP/p2"
	png "$TMP/first.png" 1 1
	png "$TMP/p1/A01.png" 1 2
	png "$TMP/p2/A01.png" 3 4
	refused_ids "ingest-resize: $TMP/p1/A01.png and $TMP/p2/A01.png give the same id 'A01'" \
		"$TMP/first.png" "$TMP/p1/A01.png" "$TMP/p2/A01.png"
	# another format, the same name
	pam 2 1 255 GRAYSCALE 5 6 | pamtotiff >"$TMP/p2/A01.tif"
	refused_ids "ingest-resize: $TMP/p1/A01.png and $TMP/p2/A01.tif give the same id 'A01'" \
		"$TMP/p1/A01.png" "$TMP/p2/A01.tif"
	# a page of a TIFF of several and a file of that name
	tiffcp "$TMP/p2/A01.tif" "$TMP/p2/A01.tif" "$TMP/p2/s.tif"
	cp "$TMP/first.png" "$TMP/s-2.png"
	refused_ids "ingest-resize: $TMP/p2/s.tif: page 2 and $TMP/s-2.png give the same id 's-2'" \
		"$TMP/first.png" "$TMP/p2/s.tif" "$TMP/s-2.png"
	# names that differ after the 247 bytes an id keeps in the stream
	stem=$(printf 'x%.0s' {1..247})
	png "$TMP/p1/${stem}a.png" 1 2
	png "$TMP/p1/${stem}b.png" 1 2
	refused_ids "ingest-resize: $TMP/p1/${stem}a.png and $TMP/p1/${stem}b.png give the same id '$stem'" \
		"$TMP/p1/${stem}a.png" "$TMP/p1/${stem}b.png"
	# a Netpbm file's id from its name is known when its image is read:
	# refused before that image is written
	pam 2 1 255 GRAYSCALE 7 8 | pamtopnm >"$TMP/p1/A01.pgm"
	refused_ids "ingest-resize: $TMP/p2/A01.png and $TMP/p1/A01.pgm give the same id 'A01'" \
		"$TMP/p1/A01.pgm" "$TMP/p2/A01.png"
	# two data set folders holding a sample of the same name
	for d in d1 d2; do
		mkdir -p "$TMP/$d/S/images" "$TMP/$d/S/masks"
		cp "$TMP/first.png" "$TMP/$d/S/images/S.png"
	done
	refused_ids "ingest-resize: $TMP/d1/S and $TMP/d2/S give the same id 'S'" "$TMP/d1" "$TMP/d2"
	refused_ids "ingest-resize: $TMP/d1/S and $TMP/d2/S/ give the same id 'S'" "$TMP/d1" "$TMP/d2/S/"
	# the same file twice is two inputs of one id too
	refused_ids "ingest-resize: $TMP/first.png and $TMP/first.png give the same id 'first'" \
		"$TMP/first.png" "$TMP/first.png"
}

@test "issue 12: --masks finds the masks of names with spaces, parentheses and UTF-8" {
	mkdir "$TMP/img" "$TMP/masks"
	png "$TMP/img/DAPI well A1 (z3).png" 10 20
	png "$TMP/img/µm.png" 30 40
	png "$TMP/masks/DAPI well A1 (z3).png" 255 0
	pam 2 1 255 GRAYSCALE 0 255 | pamtotiff >"$TMP/masks/µm.tif"
	ingest-resize -c 1 --masks "$TMP/masks" "$TMP/img/DAPI well A1 (z3).png" "$TMP/img/µm.png" >"$TMP/got"
	run pam_dump "$TMP/got"
	assert_output $'DAPI well A1 (z3) 2x1x2 255 GRAYSCALE_MASK\n10,255 20,0\nµm 2x1x2 255 GRAYSCALE_MASK\n30,0 40,255'
}

@test "issue 12: on a terminal the progress line is drawn to a file, not into a pipe, where the reader draws its own" {
	command -v script >/dev/null || skip "no script(1)"
	cd "$TMP"
	run timeout 60 script -qec "ingest-resize --size 16x16 '$DATA/stage1_train' >all.pam" /dev/null </dev/null
	assert_output --partial "ingest-resize: 24/24 images"
	[ "$(grep -ac '^ENDHDR' all.pam)" -eq 24 ]
	run timeout 60 script -qec "ingest-resize --size 16x16 '$DATA/stage1_train' | cat >piped.pam" /dev/null </dev/null
	assert_output ""
	cmp all.pam piped.pam
}
