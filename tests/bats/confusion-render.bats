load helpers

# mkpam (helpers.bash) writes the hand-made images.

# The 4x4 case: truth      prediction (p)           at T = 0.5
#               1 1 0 0    0.9  0.6  0.7  0.1       TP TP FP TN
#               1 1 0 0    0.2  1    0    0.55      FN TP TN FP
#               0 0 0 0    0.5- 0.4  0.3  0         TN TN TN TN
#               0 0 1 1    0    0    0.8  0.45      TN TN TP FN
# The image (grey, maxval 255) is 16 * (4 * y + x).
PROBS=(58982 39321 45875 6554 13107 65535 0 36044 32767 26214 19661 0 0 0 52428 29491)
TRUTH=(1 1 0 0 1 1 0 0 0 0 0 0 0 0 1 1)

pred() { mkpam 4 4 1 65535 GRAYSCALE "${1:--}" "${PROBS[@]}"; }
truth_mask() { mkpam 4 4 1 1 GRAYSCALE "${1:--}" "${TRUTH[@]}"; }
truth_sample() {
	local s=() i
	for i in {0..15}; do s+=($((16 * i)) $((TRUTH[i] * 255))); done
	mkpam 4 4 2 255 GRAYSCALE_MASK "${1:--}" "${s[@]}"
}

# rgb_values FILE: the samples of an RGB image, one pixel "R G B" a line.
rgb_values() {
	pamtopnm "$1" | pnmtoplainpnm | tail -n +4 | xargs -n 3
}

Y="240 228 66" V="213 94 0" B="0 114 178" K="0 0 0" W="255 255 255"

@test "confusion-render: the palette on black, each case at its pixel" {
	pred >"$TMP/p.pam"
	truth_mask >"$TMP/t.pam"
	confusion-render --truth "$TMP/t.pam" <"$TMP/p.pam" >"$TMP/c.pam"
	run head -n 7 "$TMP/c.pam"
	assert_output "P7
WIDTH 4
HEIGHT 4
DEPTH 3
MAXVAL 255
TUPLTYPE RGB
ENDHDR"
	run rgb_values "$TMP/c.pam"
	assert_output "$(printf '%s\n' "$Y" "$Y" "$V" "$K" "$B" "$Y" "$K" "$V" \
		"$K" "$K" "$K" "$K" "$K" "$K" "$Y" "$B")"
	pamtopng "$TMP/c.pam" >"$TMP/c.png"
	[ -s "$TMP/c.png" ]
}

@test "confusion-render: over the image of a *_MASK truth, with --alpha" {
	pred >"$TMP/p.pam"
	truth_sample >"$TMP/t.pam"
	run bash -c "confusion-render --truth $TMP/t.pam --alpha 1 <$TMP/p.pam | pamtopnm | pnmtoplainpnm | tail -n +4 | xargs -n 3"
	assert_success
	# true negatives show the image (grey 16 * i), the others the colour
	assert_output "$(printf '%s\n' "$Y" "$Y" "$V" "48 48 48" "$B" "$Y" \
		"96 96 96" "$V" "128 128 128" "144 144 144" "160 160 160" \
		"176 176 176" "192 192 192" "208 208 208" "$Y" "$B")"
	# alpha 0.5 (the default): (colour + image) / 2, rounded half up
	confusion-render --truth "$TMP/t.pam" <"$TMP/p.pam" >"$TMP/c.pam"
	run rgb_values "$TMP/c.pam"
	assert_line --index 0 "120 114 33"
	assert_line --index 2 "123 63 16"
	assert_line --index 3 "48 48 48"
	assert_line --index 4 "32 89 121"
	# --no-image ignores the image channels
	confusion-render --truth "$TMP/t.pam" --no-image <"$TMP/p.pam" >"$TMP/n.pam"
	run rgb_values "$TMP/n.pam"
	assert_line --index 3 "$K"
	assert_line --index 0 "$Y"
}

@test "issue 14: a *_LABEL truth: every label not 0 is foreground, its image drawn under" {
	pred >"$TMP/p.pam"
	# the labels 1, 2 and 300 (maxval 65535: below maxval / 2, so no
	# longer background) where the mask has its objects
	local s=() i lab=(1 1 0 0 1 1 0 0 0 0 0 0 0 0 300 2)
	for i in {0..15}; do s+=($((16 * 257 * i)) "${lab[i]}"); done
	mkpam 4 4 2 65535 GRAYSCALE_LABEL - "${s[@]}" >"$TMP/t.pam"
	truth_sample >"$TMP/m.pam"
	confusion-render --truth "$TMP/t.pam" <"$TMP/p.pam" >"$TMP/c.pam"
	confusion-render --truth "$TMP/m.pam" <"$TMP/p.pam" | cmp - "$TMP/c.pam"
	confusion-render --truth "$TMP/t.pam" --no-image <"$TMP/p.pam" >"$TMP/n.pam"
	run rgb_values "$TMP/n.pam"
	assert_output "$(printf '%s\n' "$Y" "$Y" "$V" "$K" "$B" "$Y" "$K" "$V" \
		"$K" "$K" "$K" "$K" "$K" "$K" "$Y" "$B")"
}

@test "confusion-render: --image FILE, an RGB stream" {
	pred >"$TMP/p.pam"
	truth_mask >"$TMP/t.pam"
	mkpam 4 4 3 255 RGB - $(for i in {0..15}; do echo 10 20 30; done) >"$TMP/i.pam"
	confusion-render --truth "$TMP/t.pam" --image "$TMP/i.pam" --alpha 0.25 <"$TMP/p.pam" >"$TMP/c.pam"
	run rgb_values "$TMP/c.pam"
	# 0.25 * colour + 0.75 * (10, 20, 30)
	assert_line --index 0 "68 72 39"
	assert_line --index 2 "61 39 23"
	assert_line --index 3 "10 20 30"
	assert_line --index 4 "8 44 67"
}

@test "confusion-render: --panels image | truth | prediction | confusion" {
	pred >"$TMP/p.pam"
	truth_sample >"$TMP/t.pam"
	confusion-render --truth "$TMP/t.pam" --panels --alpha 1 <"$TMP/p.pam" >"$TMP/c.pam"
	run pamfile "$TMP/c.pam"
	assert_output --partial "28 by 4"
	# row 0: image 0 16 32 48, gap, truth 1 1 0 0, gap, pred 1 1 1 0, gap,
	# confusion
	run bash -c "pamcut -top 0 -height 1 $TMP/c.pam | pamtopnm | pnmtoplainpnm | tail -n +4 | xargs -n 3"
	assert_output "$(printf '%s\n' "0 0 0" "16 16 16" "32 32 32" "48 48 48" \
		"$W" "$W" "$W" "$W" "$W" "$W" "$K" "$K" "$W" "$W" "$W" "$W" \
		"$W" "$W" "$W" "$K" "$W" "$W" "$W" "$W" "$Y" "$Y" "$V" "48 48 48")"
	# without an image: three panels; --gap 0
	truth_mask >"$TMP/m.pam"
	confusion-render --truth "$TMP/m.pam" --panels --gap 0 <"$TMP/p.pam" >"$TMP/c.pam"
	run pamfile "$TMP/c.pam"
	assert_output --partial "12 by 4"
	run bash -c "pamcut -top 3 -height 1 $TMP/c.pam | pamtopnm | pnmtoplainpnm | tail -n +4 | xargs -n 3"
	assert_output "$(printf '%s\n' "$K" "$K" "$W" "$W" "$K" "$K" "$W" "$K" \
		"$K" "$K" "$Y" "$B")"
}

@test "confusion-render: --threshold and --threshold-from" {
	pred >"$TMP/p.pam"
	truth_mask >"$TMP/t.pam"
	# at 0.85 only 0.9 and 1 are foreground
	confusion-render --truth "$TMP/t.pam" --threshold 0.85 <"$TMP/p.pam" >"$TMP/a.pam"
	run rgb_values "$TMP/a.pam"
	assert_output "$(printf '%s\n' "$Y" "$B" "$K" "$K" "$B" "$Y" "$K" "$K" \
		"$K" "$K" "$K" "$K" "$K" "$K" "$B" "$B")"
	echo '{"thresholds": [], "best": {"threshold": 0.85, "f1": 0.5}}' >"$TMP/sweep.json"
	confusion-render --truth "$TMP/t.pam" --threshold-from "$TMP/sweep.json" <"$TMP/p.pam" >"$TMP/b.pam"
	cmp "$TMP/a.pam" "$TMP/b.pam"
	# 0 makes every nonzero probability foreground
	confusion-render --truth "$TMP/t.pam" --threshold 0 <"$TMP/p.pam" >"$TMP/z.pam"
	run rgb_values "$TMP/z.pam"
	assert_line --index 8 "$V"
	assert_line --index 11 "$K"
	echo '{"best": {}}' >"$TMP/bad.json"
	run confusion-render --truth "$TMP/t.pam" --threshold-from "$TMP/bad.json" <"$TMP/p.pam"
	assert_failure 1
	assert_one_error_line confusion-render
}

@test "confusion-render: binary mask predictions (maxval 1 and 255)" {
	truth_mask >"$TMP/t.pam"
	mkpam 4 4 1 255 GRAYSCALE - 255 255 255 0 0 255 0 255 0 0 0 0 0 0 255 0 >"$TMP/p.pam"
	confusion-render --truth "$TMP/t.pam" --threshold 0.99 <"$TMP/p.pam" >"$TMP/c.pam"
	run rgb_values "$TMP/c.pam"
	assert_output "$(printf '%s\n' "$Y" "$Y" "$V" "$K" "$B" "$Y" "$K" "$V" \
		"$K" "$K" "$K" "$K" "$K" "$K" "$Y" "$B")"
	mkpam 4 4 1 1 GRAYSCALE - 1 1 1 0 0 1 0 1 0 0 0 0 0 0 1 0 >"$TMP/p1.pam"
	confusion-render --truth "$TMP/t.pam" <"$TMP/p1.pam" >"$TMP/c1.pam"
	cmp "$TMP/c.pam" "$TMP/c1.pam"
}

@test "confusion-render: a grey picture is neither a mask nor a probability map" {
	truth_mask >"$TMP/t.pam"
	# the picture of the 4x4 case (16 * (4y + x)) given as the prediction
	mkpam 4 4 1 255 GRAYSCALE pic $(for i in {0..15}; do echo $((16 * i)); done) >"$TMP/p.pam"
	run bash -c 'confusion-render --truth "$1" "$2" >"$3"' _ "$TMP/t.pam" "$TMP/p.pam" "$TMP/c.pam"
	assert_failure 1
	assert_output "confusion-render: $TMP/p.pam: image 1 (id 'pic'): GRAYSCALE of maxval 255 holds 16 at x 1, y 0: neither a binary mask (only 0 and 255) nor a probability map (maxval 65535)"
	[[ ! -s $TMP/c.pam ]]
	# an RGB picture is refused as before
	mkpam 1 1 3 255 RGB - 1 2 3 >"$TMP/rgb.pam"
	mkpam 1 1 1 1 GRAYSCALE - 1 >"$TMP/t1.pam"
	run confusion-render --truth "$TMP/t1.pam" "$TMP/rgb.pam"
	assert_failure 1
	assert_output "confusion-render: $TMP/rgb.pam: image 1: RGB image of depth 3: a prediction has one channel"
}

@test "confusion-render: standard output redirected to an input is refused" {
	pred >"$TMP/p.pam"
	truth_sample >"$TMP/t.pam"
	echo '{"best": {"threshold": 0.5}}' >"$TMP/s.json"
	cp "$TMP/t.pam" "$TMP/img.pam"
	for f in p.pam t.pam img.pam s.json; do
		cp "$TMP/$f" "$TMP/$f.before"
		run bash -c 'cd "$1" && confusion-render --truth t.pam --image img.pam \
			--threshold-from s.json p.pam >>"$2"' _ "$TMP" "$f"
		assert_failure 1
		assert_output "confusion-render: $f: is also the standard output"
		cmp "$TMP/$f" "$TMP/$f.before"
	done
	run bash -c 'confusion-render --truth "$1/t.pam" <"$1/p.pam" >>"$1/p.pam"' _ "$TMP"
	assert_failure 1
	assert_output "confusion-render: stdin: is also the standard output"
	cmp "$TMP/p.pam" "$TMP/p.pam.before"
}

@test "confusion-render: multi-image streams keep ids and order" {
	{ pred a; pred b; pred c; } >"$TMP/p.pam"
	{ truth_sample a; truth_mask b; truth_sample c; } >"$TMP/t.pam"
	confusion-render --truth "$TMP/t.pam" --alpha 1 <"$TMP/p.pam" >"$TMP/c.pam"
	run grep -a -c '^#id ' "$TMP/c.pam"
	assert_output 3
	run bash -c "grep -a '^#id ' $TMP/c.pam | xargs"
	assert_output "#id a #id b #id c"
	pamsplit "$TMP/c.pam" "$TMP/one-%d.pam"
	run rgb_values "$TMP/one-0.pam"
	assert_line --index 3 "48 48 48"
	# the second truth is a bare mask: no image, black true negatives
	run rgb_values "$TMP/one-1.pam"
	assert_line --index 3 "$K"
	assert_equal "$(rgb_values "$TMP/one-0.pam")" "$(rgb_values "$TMP/one-2.pam")"
	# ids from the truth when the prediction has none
	{ pred; pred; } >"$TMP/p2.pam"
	{ truth_mask x; truth_mask y; } >"$TMP/t2.pam"
	run bash -c "confusion-render --truth $TMP/t2.pam $TMP/p2.pam | grep -a '^#id ' | xargs"
	assert_output "#id x #id y"
}

@test "confusion-render: mismatched sizes, ids and counts" {
	pred a >"$TMP/p.pam"
	truth_mask b >"$TMP/t.pam"
	run confusion-render --truth "$TMP/t.pam" "$TMP/p.pam"
	assert_failure 1
	assert_one_error_line confusion-render
	assert_output --partial "image 1"

	mkpam 2 2 1 1 GRAYSCALE - 1 0 0 1 >"$TMP/small.pam"
	run confusion-render --truth "$TMP/small.pam" "$TMP/p.pam"
	assert_failure 1
	assert_one_error_line confusion-render
	assert_output --partial "size"

	{ pred; pred; } >"$TMP/p2.pam"
	truth_mask >"$TMP/t1.pam"
	run bash -c "confusion-render --truth $TMP/t1.pam <$TMP/p2.pam 2>$TMP/err >$TMP/out"
	assert_failure 1
	run cat "$TMP/err"
	assert_one_error_line confusion-render
	# the first image was written whole
	run pamfile -count "$TMP/out"
	assert_success
	assert_output "$TMP/out:	1 images"

	run confusion-render --truth "$TMP/p2.pam" "$TMP/t1.pam"
	assert_failure 1
	assert_one_error_line confusion-render

	# --image: wrong size, wrong id, too few, too many
	truth_mask >"$TMP/t.pam"
	pred >"$TMP/p.pam"
	run confusion-render --truth "$TMP/t.pam" --image "$TMP/small.pam" "$TMP/p.pam"
	assert_failure 1
	assert_one_error_line confusion-render
	truth_sample zz >"$TMP/img.pam"
	pred a >"$TMP/pa.pam"
	run confusion-render --truth "$TMP/t.pam" --image "$TMP/img.pam" "$TMP/pa.pam"
	assert_failure 1
	assert_one_error_line confusion-render
	assert_output --partial "'zz'"
	run confusion-render --truth "$TMP/t.pam" --image /dev/null "$TMP/p.pam"
	assert_failure 1
	assert_one_error_line confusion-render
	{ truth_sample; truth_sample; } >"$TMP/img2.pam"
	run bash -c "confusion-render --truth $TMP/t.pam --image $TMP/img2.pam $TMP/p.pam >/dev/null"
	assert_failure 1
	assert_one_error_line confusion-render
	assert_output --partial "image 2"

	# not a prediction: an RGB image, a GRAYSCALE of maxval 4095
	mkpam 4 4 1 4095 GRAYSCALE - {0..15} >"$TMP/g.pam"
	run confusion-render --truth "$TMP/t.pam" "$TMP/g.pam"
	assert_failure 1
	assert_one_error_line confusion-render
	run confusion-render --truth "$TMP/t.pam" "$TMP/img.pam"
	assert_failure 1
	assert_one_error_line confusion-render
}

@test "confusion-render: empty input" {
	run bash -c "confusion-render --truth /dev/null </dev/null | wc -c"
	assert_success
	assert_output 0
	truth_mask >"$TMP/t.pam"
	run confusion-render --truth "$TMP/t.pam" </dev/null
	assert_failure 1
	assert_one_error_line confusion-render
}

@test "confusion-render: truncated stream" {
	{ pred; pred; } | head -c -5 >"$TMP/p.pam"
	{ truth_mask; truth_mask; } >"$TMP/t.pam"
	run bash -c "confusion-render --truth $TMP/t.pam <$TMP/p.pam 2>$TMP/err >$TMP/out"
	assert_failure 1
	run cat "$TMP/err"
	assert_one_error_line confusion-render
	assert_output --partial "image 2"
	run pamfile -count "$TMP/out"
	assert_success
	assert_output "$TMP/out:	1 images"
	truth_mask | head -c -1 >"$TMP/tt.pam"
	pred >"$TMP/p1.pam"
	run confusion-render --truth "$TMP/tt.pam" "$TMP/p1.pam"
	assert_failure 1
	assert_one_error_line confusion-render
}

@test "confusion-render: usage errors exit 2" {
	pred >"$TMP/p.pam"
	truth_mask >"$TMP/t.pam"
	run confusion-render "$TMP/p.pam"
	assert_failure 2
	assert_line --index 0 "confusion-render: --truth FILE is required"
	run confusion-render --truth "$TMP/t.pam" --threshold 1.5 "$TMP/p.pam"
	assert_failure 2
	run confusion-render --truth "$TMP/t.pam" --threshold 0.3 --threshold-from x.json "$TMP/p.pam"
	assert_failure 2
	run confusion-render --truth "$TMP/t.pam" --alpha -0.1 "$TMP/p.pam"
	assert_failure 2
	run confusion-render --truth "$TMP/t.pam" --gap x "$TMP/p.pam"
	assert_failure 2
	run confusion-render --truth "$TMP/t.pam" --image "$TMP/t.pam" --no-image "$TMP/p.pam"
	assert_failure 2
	run confusion-render --truth "$TMP/t.pam" --image - <"$TMP/p.pam"
	assert_failure 2
	run confusion-render --truth - <"$TMP/p.pam"
	assert_failure 2
	run confusion-render --truth "$TMP/t.pam" a.pam b.pam
	assert_failure 2
	run confusion-render --bogus
	assert_failure 2
	assert_line --index 0 "confusion-render: unknown option '--bogus'"
	run confusion-render --help
	assert_success
	assert_line --index 0 --partial "usage: confusion-render --truth FILE"
	run confusion-render --version
	assert_output "confusion-render unetpipe 0.1.0"
	run confusion-render --truth "$TMP/nonexistent.pam" "$TMP/p.pam"
	assert_failure 1
	assert_output "confusion-render: $TMP/nonexistent.pam: No such file or directory"
}

@test "confusion-render: prediction and truth both stdin: exit 2 with its message, after the sweep file is read" {
	pred >"$TMP/p.pam"
	run confusion-render --truth - <"$TMP/p.pam"
	assert_failure 2
	assert_line --index 0 "confusion-render: the prediction and the truth cannot both be stdin"
	assert_line --index 1 "Try 'confusion-render --help' for more information."
	assert_equal "${#lines[@]}" 2
	# As before the check moved out of evalpair: a broken sweep file is
	# reported first, with exit 1.
	echo '{"best":{}}' >"$TMP/bad.json"
	run confusion-render --truth - --threshold-from "$TMP/bad.json" - <"$TMP/p.pam"
	assert_failure 1
	assert_output "confusion-render: $TMP/bad.json: \"best\" has no \"threshold\" number"
}

@test "confusion-render: write error" {
	pred >"$TMP/p.pam"
	truth_mask >"$TMP/t.pam"
	run bash -c "confusion-render --truth $TMP/t.pam <$TMP/p.pam >/dev/full"
	assert_failure 1
	assert_one_error_line confusion-render
}

@test "confusion-render: the man page examples work" {
	cd "$TMP"
	{ truth_mask a; truth_mask b; } >truth-masks.pam
	{ truth_sample a; truth_sample b; } >images.pam
	mkpam 4 4 1 255 GRAYSCALE a 255 255 255 0 0 255 0 255 0 0 0 0 0 0 255 0 >masks.pam
	mkpam 4 4 1 255 GRAYSCALE b 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 >>masks.pam
	confusion-render --truth truth-masks.pam --image images.pam \
		--alpha 0.8 masks.pam >overlay.pam
	run pamfile -count overlay.pam
	assert_output "overlay.pam:	2 images"
	# 0.8 * yellow + 0.2 * 0
	run rgb_values overlay.pam
	assert_line --index 0 "192 182 53"

	{ pred a; pred b; } >pred.pam
	echo '{"best": {"threshold": 0.5}}' >sweep.json
	confusion-render --truth images.pam --threshold-from sweep.json \
		--panels <pred.pam >confusion.pam
	pamsplit confusion.pam confusion-%d.pam
	for f in confusion-*.pam; do pamtopng "$f" > "${f%.pam}.png"; done
	[ -s confusion-0.png ] && [ -s confusion-1.png ]
	run pamfile confusion-1.pam
	assert_output --partial "28 by 4"
}

# count_colour FILE R G B: pixels of that colour in the first image of FILE.
count_colour() {
	pamtopnm "$1" | ppmhist -noheader |
		awk -v r="$2" -v g="$3" -v b="$4" '
			$1 == r && $2 == g && $3 == b { n = $5 }
			END { print n + 0 }'
}

@test "confusion-render: agrees with threshold-sweep on a real pipeline" {
	command -v unet-train && command -v unet-infer && command -v threshold-sweep ||
		skip "unet-train, unet-infer or threshold-sweep not built"
	cd "$TMP"
	samples="$FIXTURES/train-16.pam"
	timeout 60 unet-train -q -o m.safetensors --epochs 2 --base-filters 4 --depth 2 \
		--threads 1 --val-split 0 "$samples"
	timeout 60 unet-infer --threads 1 m.safetensors <"$samples" >pred.pam
	threshold-sweep --truth "$samples" <pred.pam >sweep.json
	confusion-render --truth "$samples" --threshold-from sweep.json \
		--no-image <pred.pam >c.pam
	pamsplit c.pam c-%d.pam 2>/dev/null
	tp=0 fp=0 fn=0 tn=0
	for f in c-*.pam; do
		tp=$((tp + $(count_colour "$f" 240 228 66)))
		fp=$((fp + $(count_colour "$f" 213 94 0)))
		fn=$((fn + $(count_colour "$f" 0 114 178)))
		tn=$((tn + $(count_colour "$f" 0 0 0)))
	done
	assert_equal "$tp $fp $fn $tn" "$(jq -r '.best | "\(.tp) \(.fp) \(.fn) \(.tn)"' sweep.json)"
	run pamfile -count c.pam
	assert_output "c.pam:	6 images"
}
