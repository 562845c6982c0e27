load helpers

# rgb_of FILE: the pixels of an RGB image, one "R G B" a line.
rgb_of() {
	pam_dump "$1" | tail -n +2 | tr ' ' '\n' | tr ',' ' '
}

# The colours of labels (golden-angle hues, saturation 0.7, value 1 for
# odd labels, 0.8 for even), computed independently with colorsys.
colours() {
	"$REFPY" - "$@" <<'PY'
import colorsys, sys
for k in map(int, sys.argv[1:]):
    if k == 0:
        print('0 0 0')
        continue
    h = k * 137.508 % 360 / 360
    v = 1 if k % 2 else 0.8
    print(' '.join(str(round(c * 255)) for c in colorsys.hsv_to_rgb(h, 0.7, v)))
PY
}

@test "label-render: each label its colour on black, as bytes" {
	mkpam 3 2 1 65535 LABEL x 1 2 0 3 0 65535 >"$TMP/l.pam"
	label-render "$TMP/l.pam" >"$TMP/r.pam"
	run head -n 8 "$TMP/r.pam"
	assert_output "P7
#id x
WIDTH 3
HEIGHT 2
DEPTH 3
MAXVAL 255
TUPLTYPE RGB
ENDHDR"
	run rgb_of "$TMP/r.pam"
	assert_output "77 255 129
145 61 204
0 0 0
255 233 77
0 0 0
235 255 77"
	# the same as the independent computation, for labels 1 to 300
	local ks=($(seq 1 300))
	mkpam 300 1 1 65535 LABEL - "${ks[@]}" >"$TMP/l.pam"
	label-render <"$TMP/l.pam" >"$TMP/r.pam"
	run rgb_of "$TMP/r.pam"
	assert_output "$(colours "${ks[@]}")"
	pamtopng "$TMP/r.pam" >"$TMP/r.png"
	[ -s "$TMP/r.png" ]
}

# A 5x4 label image: object 1 a 3x3 square at (1,0), object 2 the pixel
# (0,3); the image: grey 10 * i (i the pixel's index), maxval 255.
#   0 1 1 1 0
#   0 1 1 1 0
#   0 1 1 1 0
#   2 0 0 0 0
square() {
	mkpam 5 4 1 65535 LABEL "${1:--}" 0 1 1 1 0 0 1 1 1 0 0 1 1 1 0 2 0 0 0 0
}
grey() {
	local v=() i
	for i in $(seq 0 19); do v+=($((10 * i))); done
	mkpam 5 4 1 255 GRAYSCALE "${1:--}" "${v[@]}"
}

@test "label-render: outlines over the image; --alpha fills the inside" {
	square s >"$TMP/l.pam"
	grey s >"$TMP/g.pam"
	label-render --image "$TMP/g.pam" "$TMP/l.pam" >"$TMP/r.pam"
	local c1 c2
	c1=$(colours 1) c2=$(colours 2)
	run rgb_of "$TMP/r.pam"
	# only the centre (2,1) of the square is inside: it shows the image
	assert_output "0 0 0
$c1
$c1
$c1
40 40 40
50 50 50
$c1
70 70 70
$c1
90 90 90
100 100 100
$c1
$c1
$c1
140 140 140
$c2
160 160 160
170 170 170
180 180 180
190 190 190"
	label-render --image "$TMP/g.pam" --alpha 1 "$TMP/l.pam" >"$TMP/r.pam"
	run rgb_of "$TMP/r.pam"
	assert_line --index 7 "$c1"
	# alpha 0.5: (colour + image) / 2, rounded half up: (77+70)/2 = 73.5
	label-render --image "$TMP/g.pam" --alpha 0.5 "$TMP/l.pam" >"$TMP/r.pam"
	run rgb_of "$TMP/r.pam"
	assert_line --index 7 "74 163 100"
	run grep -a -c '^#id s$' "$TMP/r.pam"
	assert_output 1
	# a sample stream serves as the image: its image channels
	run bash -c "pamstack -tupletype GRAYSCALE_MASK $TMP/g.pam $TMP/g.pam | label-render --image - $TMP/l.pam | cmp - <(label-render --image $TMP/g.pam $TMP/l.pam)"
	assert_success
}

@test "label-render: a stream of several, from label-objects, through pamtopng" {
	{
		mkpam 3 1 1 255 GRAYSCALE a 255 0 255
		mkpam 2 2 1 255 GRAYSCALE b 255 255 255 255
	} | label-objects --min-size 1 | label-render >"$TMP/r.pam"
	run pam_dump "$TMP/r.pam"
	assert_output "a 3x1x3 255 RGB
$(colours 1 | tr ' ' ,) 0,0,0 $(colours 2 | tr ' ' ,)
b 2x2x3 255 RGB
$(colours 1 | tr ' ' ,) $(colours 1 | tr ' ' ,)
$(colours 1 | tr ' ' ,) $(colours 1 | tr ' ' ,)"
	pamsplit "$TMP/r.pam" "$TMP/r-%d.pam"
	pamtopng "$TMP/r-1.pam" >"$TMP/r.png"
	[ -s "$TMP/r.png" ]
	: >"$TMP/empty"
	run bash -c "label-render <$TMP/empty >$TMP/out"
	assert_success
	[ ! -s "$TMP/out" ]
}

@test "label-render: mismatched streams and bad input are one line, nothing half-written" {
	square s >"$TMP/l.pam"
	grey s >"$TMP/g.pam"
	{ square s; square t; } >"$TMP/l2.pam"
	{ grey s; grey t; } >"$TMP/g2.pam"
	label-render --image "$TMP/g.pam" "$TMP/l.pam" >"$TMP/one.pam"

	run bash -c "label-render --image $TMP/g.pam $TMP/l2.pam 2>&1 >$TMP/out"
	assert_failure 1
	assert_output "label-render: $TMP/l2.pam: image 2: no matching image in $TMP/g.pam, which ends after 1"
	cmp "$TMP/out" "$TMP/one.pam"
	run bash -c "label-render --image $TMP/g2.pam $TMP/l.pam 2>&1 >$TMP/out"
	assert_failure 1
	assert_output "label-render: $TMP/g2.pam: image 2: no matching label image in $TMP/l.pam, which ends after 1"
	{ grey s; grey u; } >"$TMP/g3.pam"
	run bash -c "label-render --image $TMP/g3.pam $TMP/l2.pam 2>&1 >$TMP/out"
	assert_failure 1
	assert_output "label-render: $TMP/g3.pam: image 2: id 'u' differs from the label image's ($TMP/l2.pam: 't')"
	cmp "$TMP/out" "$TMP/one.pam"
	mkpam 2 2 1 255 GRAYSCALE s 1 2 3 4 >"$TMP/small.pam"
	run label-render --image "$TMP/small.pam" "$TMP/l.pam"
	assert_failure 1
	assert_output "label-render: $TMP/small.pam: image 1: size 2x2 differs from the label image's ($TMP/l.pam: 5x4)"
	# not a label image: a probability map, a truncated one
	mkpam 1 1 1 65535 GRAYSCALE - 7 >"$TMP/p.pam"
	run label-render "$TMP/p.pam"
	assert_failure 1
	assert_one_error_line label-render
	assert_output --partial "tuple type 'GRAYSCALE' not accepted (expected RGB_MASK, GRAYSCALE_MASK, RGB_LABEL, GRAYSCALE_LABEL, LABEL)"
	{ cat "$TMP/l.pam"; square | head -c 80; } >"$TMP/cut.pam"
	run bash -c "label-render $TMP/cut.pam 2>&1 >$TMP/out"
	assert_failure 1
	assert_one_error_line label-render
	assert_output --partial "image 2: "
	label-render "$TMP/l.pam" | cmp - "$TMP/out"
	# usage errors
	run label-render --alpha 0.5 "$TMP/l.pam"
	assert_failure 1
	assert_one_error_line label-render
	assert_output --partial "image 1: --alpha needs an image to draw over"
	run label-render --image - -
	assert_failure 2
	assert_equal "${lines[0]}" "label-render: the label images and --image cannot both be stdin"
	run label-render --image "$TMP/g.pam" --alpha 2 "$TMP/l.pam"
	assert_failure 2
	run label-render "$TMP/l.pam" "$TMP/l.pam"
	assert_failure 2
}

@test "label-render: a *_LABEL sample is its objects outlined over its own image" {
	square >"$TMP/l.pam"
	grey >"$TMP/g.pam"
	# the sample: grey 10 * i and the square's labels, channel by channel
	local v=() lab=(0 1 1 1 0 0 1 1 1 0 0 1 1 1 0 2 0 0 0 0) i
	for i in $(seq 0 19); do v+=($((10 * i)) "${lab[i]}"); done
	mkpam 5 4 2 255 GRAYSCALE_LABEL - "${v[@]}" >"$TMP/s.pam"
	label-render --image "$TMP/g.pam" "$TMP/l.pam" >"$TMP/want.pam"
	label-render <"$TMP/s.pam" >"$TMP/got.pam"
	run rgb_of "$TMP/got.pam"
	assert_output "$(rgb_of "$TMP/want.pam")"
	label-render --image "$TMP/g.pam" --alpha 0.5 "$TMP/l.pam" >"$TMP/want.pam"
	label-render --alpha 0.5 "$TMP/s.pam" >"$TMP/got.pam"
	run rgb_of "$TMP/got.pam"
	assert_output "$(rgb_of "$TMP/want.pam")"
	# two samples in one stream: two pictures
	cat "$TMP/s.pam" "$TMP/s.pam" | label-render | pamfile - >"$TMP/files"
	run wc -l <"$TMP/files"
	assert_output 2
	# a *_MASK sample has no objects
	mkpam 2 1 2 1 GRAYSCALE_MASK m 0 1 1 0 >"$TMP/m.pam"
	run label-render "$TMP/m.pam"
	assert_failure 1
	assert_one_error_line label-render
	assert_output "label-render: $TMP/m.pam: image 1: a GRAYSCALE_MASK sample has a mask, not objects (label-objects makes them)"
}
