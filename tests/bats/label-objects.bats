load helpers

# discs W H ID CX,CY...: a FOREGROUND_DISTANCE map (maxval 65535) of discs
# of radius 5: foreground 0.9 inside a disc, 0.1 outside; distance
# (5 - r) / 5 from the nearest centre inside, 0 outside.
discs() {
	"$REFPY" - "$@" <<'PY'
import math, sys
w, h, ident = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
cs = [tuple(map(int, c.split(','))) for c in sys.argv[4:]]
out = sys.stdout.buffer
out.write(b'P7\nWIDTH %d\nHEIGHT %d\nDEPTH 2\nMAXVAL 65535\n'
          b'TUPLTYPE FOREGROUND_DISTANCE\n#id %s\nENDHDR\n'
          % (w, h, ident.encode()))
for y in range(h):
    for x in range(w):
        r = min(math.hypot(x - cx, y - cy) for cx, cy in cs)
        fg = 0.9 if r <= 5 else 0.1
        d = (5 - r) / 5 if r <= 5 else 0
        for v in (fg, d):
            out.write(round(v * 65535).to_bytes(2, 'big'))
PY
}

# The mask of case "components": two images with ids, comments carried.
#   image a (4x3)     image b (3x2)
#   1 1 0 1           0 0 1
#   0 0 0 1           1 0 0
#   1 0 1 0
mask_a() {
	mkpam 4 3 1 255 GRAYSCALE a 255 255 0 255 0 0 0 255 255 0 255 0
}

@test "label-objects: binary masks to LABEL images, objects in raster order, ids and comments carried" {
	{
		mask_a | sed 's/^#id a$/#id a\n#original-size 40x30\n#note kept/'
		mkpam 3 2 1 1 BLACKANDWHITE b 0 0 1 1 0 0
	} >"$TMP/m.pam"
	# 8-connectivity is the default: (3,1) and (2,2) touch by a corner
	label-objects --min-size 1 "$TMP/m.pam" >"$TMP/l.pam"
	run pam_dump "$TMP/l.pam"
	assert_output "a 4x3x1 65535 LABEL
1 1 0 2
0 0 0 2
3 0 2 0
b 3x2x1 65535 LABEL
0 0 1
2 0 0"
	run grep -a -c -e '^#original-size 40x30$' -e '^#note kept$' "$TMP/l.pam"
	assert_output 2
	label-objects --min-size 1 --connectivity 8 <"$TMP/m.pam" | cmp - "$TMP/l.pam"
	label-objects --min-size 1 --connectivity 4 "$TMP/m.pam" >"$TMP/l.pam"
	run pam_dump "$TMP/l.pam"
	assert_output "a 4x3x1 65535 LABEL
1 1 0 2
0 0 0 2
3 0 4 0
b 3x2x1 65535 LABEL
0 0 1
2 0 0"
}

@test "label-objects: components of a probability map at --threshold (p > T)" {
	# p: 0.5 (32768 > cutoff of 0.5), 0.2, 0.6, 0.45 / 0, 0.9, 0, 1
	mkpam 4 2 1 65535 GRAYSCALE p 32768 13107 39321 29491 0 58982 0 65535 >"$TMP/p.pam"
	label-objects --min-size 1 --connectivity 4 "$TMP/p.pam" >"$TMP/l.pam"
	run pam_dump "$TMP/l.pam"
	assert_output "p 4x2x1 65535 LABEL
1 0 2 0
0 3 0 4"
	label-objects --min-size 1 -c 4 --threshold 0.55 "$TMP/p.pam" >"$TMP/l.pam"
	run pam_dump "$TMP/l.pam"
	assert_output "p 4x2x1 65535 LABEL
0 0 1 0
0 2 0 3"
	# with 8-connectivity the corners join them all
	label-objects --min-size 1 "$TMP/p.pam" >"$TMP/l.pam"
	run pam_dump "$TMP/l.pam"
	assert_output "p 4x2x1 65535 LABEL
1 0 1 0
0 1 0 1"
	# at threshold 0: every pixel but 0 is foreground
	label-objects --min-size 1 --threshold 0 --connectivity 4 "$TMP/p.pam" >"$TMP/l.pam"
	run pam_dump "$TMP/l.pam"
	assert_output "p 4x2x1 65535 LABEL
1 1 1 1
0 1 0 1"
}

@test "label-objects: --threshold-from takes the best threshold of a threshold-sweep report" {
	# the same map as above; a report whose best threshold is 0.55
	mkpam 4 2 1 65535 GRAYSCALE p 32768 13107 39321 29491 0 58982 0 65535 >"$TMP/p.pam"
	printf '{"best": {"threshold": 0.55}}\n' >"$TMP/sweep.json"
	label-objects --min-size 1 -c 4 --threshold-from "$TMP/sweep.json" "$TMP/p.pam" >"$TMP/l.pam"
	run pam_dump "$TMP/l.pam"
	assert_output "p 4x2x1 65535 LABEL
0 0 1 0
0 2 0 3"
	run label-objects --threshold 0.5 --threshold-from "$TMP/sweep.json" "$TMP/p.pam"
	assert_failure 2
	assert_line --index 0 "label-objects: --threshold and --threshold-from exclude each other"
	printf 'not json\n' >"$TMP/bad.json"
	run label-objects --threshold-from "$TMP/bad.json" "$TMP/p.pam"
	assert_failure 1
	assert_one_error_line label-objects
}

# Labels of image FILE as "x,y,label" for every foreground pixel.
pixels() {
	pam_dump "$1" | tail -n +2 | awk '{for (x = 1; x <= NF; x++) if ($x) print x - 1 "," NR - 1 "," $x}'
}

@test "label-objects: two touching discs with two distance peaks become two objects (watershed by default)" {
	discs 19 11 two 5,5 13,5 >"$TMP/m.pam"
	label-objects "$TMP/m.pam" >"$TMP/l.pam"
	run pam_dump "$TMP/l.pam"
	assert_line --index 0 "two 19x11x1 65535 LABEL"
	# every pixel of disc 1 (nearer (5,5)) is 1, of disc 2 is 2; the
	# equidistant column x = 9 is one or the other
	pixels "$TMP/l.pam" >"$TMP/px"
	run awk -F, '
		{ d1 = ($1-5)^2 + ($2-5)^2; d2 = ($1-13)^2 + ($2-5)^2
		  want = d1 < d2 ? 1 : d1 > d2 ? 2 : $3
		  if ($3 != want) bad++; n[$3]++ }
		END { print bad + 0, n[1], n[2], length(n) }' "$TMP/px"
	assert_output --regexp '^0 [0-9]+ [0-9]+ 2$'
	# 81 pixels per disc, 9 of them in both: 153 labelled, none twice
	local n1 n2
	read -r _ n1 n2 _ <<<"$output"
	assert_equal $((n1 + n2)) 153
	# the same map as components: one object
	label-objects --mode components "$TMP/m.pam" >"$TMP/c.pam"
	pixels "$TMP/c.pam" >"$TMP/px"
	run bash -c "cut -d, -f3 $TMP/px | sort | uniq -c"
	assert_output --regexp "^ *$((n1 + n2)) 1$"
}

@test "label-objects: one disc with one peak stays one object, a blob without a seed is its own" {
	discs 19 11 one 13,5 >"$TMP/m.pam"
	label-objects "$TMP/m.pam" >"$TMP/l.pam"
	pixels "$TMP/l.pam" >"$TMP/px"
	run bash -c "cut -d, -f3 $TMP/px | sort | uniq -c"
	assert_output --regexp '^ *81 1$'
	# add a foreground blob at the top left with a distance of 0.3 (no
	# seed at 0.5): object 1 (first in raster order), the disc object 2
	"$REFPY" - "$TMP/m.pam" "$TMP/b.pam" <<'PY'
import sys
d = bytearray(open(sys.argv[1], 'rb').read())
off = d.index(b'ENDHDR\n') + 7
for y in range(2):
    for x in range(3):
        p = off + (y * 19 + x) * 4
        d[p:p + 4] = (58982).to_bytes(2, 'big') + (19661).to_bytes(2, 'big')
open(sys.argv[2], 'wb').write(d)
PY
	label-objects --min-fraction 0 "$TMP/b.pam" >"$TMP/l.pam"
	pixels "$TMP/l.pam" >"$TMP/px"
	run bash -c "cut -d, -f3 $TMP/px | sort | uniq -c"
	assert_output --regexp '^ *6 1
 *81 2$'
	run head -1 "$TMP/px"
	assert_output "0,0,1"
	# a higher seed threshold leaves the disc seedless too: still its
	# own object; --seed-threshold 0.2 makes the blob a seed of its own
	run bash -c "label-objects --min-fraction 0 --seed-threshold 1 $TMP/b.pam | cmp - $TMP/l.pam"
	assert_success
	run bash -c "label-objects --min-fraction 0 --seed-threshold 0.2 $TMP/b.pam | cmp - $TMP/l.pam"
	assert_success
}

# A bar: foreground everywhere, DISTANCE given per pixel (0..9 -> 0..0.9).
bar() {
	local v=() c
	for c in $(fold -w1 <<<"$1"); do v+=(58982 $((c * 6553))); done
	mkpam "${#1}" 1 2 65535 FOREGROUND_DISTANCE - "${v[@]}"
}

@test "label-objects: flooding by decreasing distance, ties broken the same way every run" {
	# two seeds (9 > 0.5) at the ends, a flat valley: the seed first in
	# raster order takes the middle pixel
	bar 9222229 >"$TMP/t.pam"
	label-objects --min-size 1 "$TMP/t.pam" >"$TMP/l.pam"
	run pam_dump "$TMP/l.pam"
	assert_line --index 1 "1 1 1 1 2 2 2"
	for i in 1 2 3; do
		label-objects --min-size 1 <"$TMP/t.pam" | cmp - "$TMP/l.pam"
	done
	# the side with the higher distance floods first and takes the
	# valley's pixels down to the level of the other side
	bar 9122449 >"$TMP/t.pam"
	label-objects --min-size 1 "$TMP/t.pam" >"$TMP/l.pam"
	run pam_dump "$TMP/l.pam"
	assert_line --index 1 "1 1 2 2 2 2 2"
	# a middle peak of 0.6 is a seed at the default 0.5, not at 0.7
	bar 92629 >"$TMP/t.pam"
	label-objects --min-size 1 "$TMP/t.pam" >"$TMP/l.pam"
	run pam_dump "$TMP/l.pam"
	assert_line --index 1 "1 1 2 3 3"
	label-objects --min-size 1 --seed-threshold 0.7 "$TMP/t.pam" >"$TMP/l.pam"
	run pam_dump "$TMP/l.pam"
	assert_line --index 1 "1 1 1 2 2"
}

@test "label-objects: --merge joins a shallow peak to its neighbour, not two deep ones" {
	# distances 0.9, 0.49, 0.53, 0.2, 0.9: three seeds (> 0.5); the middle
	# peak rises 0.046 above its saddle with the left object, both outer
	# peaks 0.7 above the saddle of 0.2
	mkpam 5 1 2 65535 FOREGROUND_DISTANCE - 58982 58982 58982 32000 \
		58982 35000 58982 13107 58982 58982 >"$TMP/t.pam"
	label-objects --min-size 1 --merge 0 "$TMP/t.pam" >"$TMP/l.pam"
	run pam_dump "$TMP/l.pam"
	assert_line --index 1 "1 1 2 3 3"
	label-objects --min-size 1 --merge 0.04 "$TMP/t.pam" >"$TMP/l.pam"
	run pam_dump "$TMP/l.pam"
	assert_line --index 1 "1 1 2 3 3"
	# the default, 0.1
	label-objects --min-size 1 "$TMP/t.pam" >"$TMP/l.pam"
	run pam_dump "$TMP/l.pam"
	assert_line --index 1 "1 1 1 2 2"
	label-objects --min-size 1 --merge 0.69 "$TMP/t.pam" >"$TMP/l.pam"
	run pam_dump "$TMP/l.pam"
	assert_line --index 1 "1 1 1 2 2"
	label-objects --min-size 1 --merge 0.71 "$TMP/t.pam" >"$TMP/l.pam"
	run pam_dump "$TMP/l.pam"
	assert_line --index 1 "1 1 1 1 1"
	for bad in -0.1 1.5 x; do
		run label-objects --merge "$bad" "$TMP/t.pam"
		assert_failure 2
		assert_line --index 0 --partial "label-objects: --merge"
	done
}

@test "label-objects: --min-size removes small objects, a watershed object's pixels go to its neighbour" {
	# a spurious peak (seed) at the right end makes a 2-pixel object
	bar 9999999229 >"$TMP/t.pam"
	label-objects --min-size 1 "$TMP/t.pam" >"$TMP/l.pam"
	run pam_dump "$TMP/l.pam"
	assert_line --index 1 "1 1 1 1 1 1 1 1 2 2"
	label-objects --min-size 3 "$TMP/t.pam" >"$TMP/l.pam"
	run pam_dump "$TMP/l.pam"
	assert_line --index 1 "1 1 1 1 1 1 1 1 1 1"
	# a lone object below the size becomes background; the default is 4
	mkpam 6 1 1 255 GRAYSCALE - 255 255 255 0 255 255 >"$TMP/m.pam"
	label-objects "$TMP/m.pam" >"$TMP/l.pam"
	run pam_dump "$TMP/l.pam"
	assert_line --index 1 "0 0 0 0 0 0"
	label-objects --min-size 3 "$TMP/m.pam" >"$TMP/l.pam"
	run pam_dump "$TMP/l.pam"
	assert_line --index 1 "1 1 1 0 0 0"
	label-objects --min-size 0 "$TMP/m.pam" >"$TMP/l.pam"
	run pam_dump "$TMP/l.pam"
	assert_line --index 1 "1 1 1 0 2 2"
}

@test "label-objects: --min-fraction removes objects small beside the image's median, default 0.15" {
	# objects of 40, 40 and 5 pixels in a row: median 40, so the default
	# cuts below 6 pixels and the 5-pixel object goes; --min-fraction 0
	# keeps it (--min-size 4 does)
	v=()
	for n in 40 40 5; do
		for ((i = 0; i < n; i++)); do v+=(255); done
		v+=(0)
	done
	mkpam 88 1 1 255 GRAYSCALE - "${v[@]}" >"$TMP/m.pam"
	label-objects "$TMP/m.pam" >"$TMP/l.pam"
	pam_dump "$TMP/l.pam" >"$TMP/d"
	run bash -c "sed -n 2p $TMP/d | tr ' ' '\n' | sort -n | uniq -c"
	assert_output --regexp '^ *8 0
 *40 1
 *40 2$'
	label-objects --min-fraction 0 "$TMP/m.pam" >"$TMP/l.pam"
	pam_dump "$TMP/l.pam" >"$TMP/d"
	run bash -c "sed -n 2p $TMP/d | tr ' ' '\n' | sort -n | uniq -c"
	assert_output --regexp '^ *3 0
 *40 1
 *40 2
 *5 3$'
	# a watershed object removed by the fraction goes to its neighbour:
	# 8 and 2 pixels (median 5); 0.5 x 5 = 2.5 takes the 2-pixel object
	bar 9999999229 >"$TMP/t.pam"
	label-objects --min-size 1 "$TMP/t.pam" >"$TMP/l.pam"
	run pam_dump "$TMP/l.pam"
	assert_line --index 1 "1 1 1 1 1 1 1 1 2 2"
	label-objects --min-size 1 --min-fraction 0.5 "$TMP/t.pam" >"$TMP/l.pam"
	run pam_dump "$TMP/l.pam"
	assert_line --index 1 "1 1 1 1 1 1 1 1 1 1"
	for bad in -0.1 1.5 x; do
		run label-objects --min-fraction "$bad" "$TMP/t.pam"
		assert_failure 2
		assert_line --index 0 --partial "label-objects: --min-fraction"
	done
}

@test "label-objects: no foreground gives a LABEL image of zeros; an empty stream gives nothing" {
	mkpam 3 2 1 65535 GRAYSCALE z 0 100 32767 0 0 1 >"$TMP/p.pam"
	label-objects "$TMP/p.pam" >"$TMP/l.pam"
	run pam_dump "$TMP/l.pam"
	assert_output "z 3x2x1 65535 LABEL
0 0 0
0 0 0"
	: >"$TMP/empty"
	run bash -c "label-objects <$TMP/empty >$TMP/out"
	assert_success
	assert_output ""
	[ ! -s "$TMP/out" ]
}

# many N: a 512x512 mask with N one-pixel objects (N <= 65536), one at
# every even x and y in raster order.
many() {
	"$REFPY" -c "
import sys
n = $1
px = bytearray(512 * 512)
for k in range(n):
    px[(k // 256) * 2 * 512 + (k % 256) * 2] = 255
sys.stdout.buffer.write(b'P7\nWIDTH 512\nHEIGHT 512\nDEPTH 1\nMAXVAL 255\nTUPLTYPE GRAYSCALE\nENDHDR\n' + px)"
}

@test "label-objects: 65535 objects fit, 65536 are one error and nothing of that image is written" {
	many 65535 >"$TMP/ok.pam"
	label-objects --min-size 1 "$TMP/ok.pam" >"$TMP/ok.out"
	# the last object, at (508, 510), is 65535
	run bash -c "tail -c $((2 * (512 + 4))) $TMP/ok.out | head -c 6 | od -An -tu2 --endian=big"
	assert_output --regexp '^ +65535 +0 +0$'
	{ mask_a; many 65536; } >"$TMP/bad.pam"
	run bash -c "label-objects --min-size 1 $TMP/bad.pam 2>&1 >$TMP/out"
	assert_failure 1
	assert_one_error_line label-objects
	assert_output "label-objects: $TMP/bad.pam: image 2: 65536 objects, more than the 65535 a label image holds"
	# only the first image, whole
	mask_a | label-objects --min-size 1 | cmp - "$TMP/out"
}

@test "label-objects: bad input and bad options are one line, nothing half-written" {
	mask_a >"$TMP/a.pam"
	cp "$TMP/a.pam" "$TMP/a.saved"
	label-objects "$TMP/a.pam" >"$TMP/a.out"
	# RGB, a grey image that is neither mask nor map, a map of maxval 255
	local -A bad=(
		[rgb]="$(mkpam 1 1 3 255 RGB - 1 2 3 | base64 -w0)"
		[grey]="$(mkpam 2 1 1 255 GRAYSCALE - 0 128 | base64 -w0)"
		[maxval]="$(mkpam 1 1 2 255 FOREGROUND_DISTANCE - 1 2 | base64 -w0)"
		[truncated]="$(mkpam 2 2 1 255 GRAYSCALE - 0 255 | base64 -w0)"
	)
	local -A msg=(
		[rgb]="image 2: RGB of depth 3, maxval 255: expected a probability map (GRAYSCALE or FOREGROUND_..., maxval 65535) or a binary mask (maxval 1 or 255)"
		[grey]="image 2: GRAYSCALE of maxval 255 holds 128 at x 1, y 0: neither a binary mask (only 0 and 255) nor a probability map (maxval 65535)"
		[maxval]="image 2: FOREGROUND_DISTANCE of maxval 255: a multi-output map has maxval 65535"
		[truncated]="image 2: "
	)
	local k
	for k in "${!bad[@]}"; do
		{ cat "$TMP/a.pam"; base64 -d <<<"${bad[$k]}"; } >"$TMP/in.pam"
		run bash -c "label-objects <$TMP/in.pam 2>&1 >$TMP/out"
		assert_failure 1
		assert_one_error_line label-objects
		assert_output --partial "label-objects: stdin: ${msg[$k]}"
		cmp "$TMP/out" "$TMP/a.out"
	done
	# the watershed needs a DISTANCE channel
	mkpam 3 1 2 65535 FOREGROUND_BORDER - 65535 0 0 0 65535 0 >"$TMP/fb.pam"
	run label-objects --mode watershed "$TMP/fb.pam"
	assert_failure 1
	assert_output "label-objects: $TMP/fb.pam: image 1: --mode watershed needs a DISTANCE channel, which FOREGROUND_BORDER of depth 2 has not"
	run label-objects --mode watershed "$TMP/a.pam"
	assert_failure 1
	assert_output "label-objects: $TMP/a.pam: image 1: --mode watershed needs a DISTANCE channel, which GRAYSCALE of depth 1 has not"
	# without DISTANCE the default is components (of channel 0)
	run bash -c "label-objects --min-size 1 $TMP/fb.pam | tail -c 6 | od -An -tu1"
	assert_output --regexp '^ +0 +1 +0 +0 +0 +2$'
	# usage errors: exit 2, one line
	for args in "--mode foo" "--connectivity 6" "--threshold 2" \
		"--seed-threshold -1" "--min-size x" "a b"; do
		run label-objects $args "$TMP/a.pam"
		assert_failure 2
		assert_regex "${lines[0]}" "^label-objects: "
	done
	cmp "$TMP/a.pam" "$TMP/a.saved"
	# stdout redirected to the input is refused before anything is read
	run bash -c "label-objects $TMP/a.pam >>$TMP/a.pam"
	assert_failure
	assert_one_error_line label-objects
	cmp "$TMP/a.pam" "$TMP/a.saved"
}
