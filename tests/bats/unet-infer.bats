#!/usr/bin/env bats
# unet-infer: probability maps equal to the PyTorch reference's, padding,
# batching, tiling, resizing, metadata, and every kind of failure.

load helpers

RGB="$FIXTURES/infer-rgb.pam"       # 64x64, 48x32, 50x37, 64x64 RGB crops, maxval 255
GRAY="$FIXTURES/infer-gray.pam"     # two 40x24 GRAYSCALE, maxval 65535
BIG="$FIXTURES/infer-128.pam"       # one 128x128 RGB
SAMPLE="$FIXTURES/infer-sample.pam" # the first image of RGB with its mask (RGB_MASK)
TOOL=("$REFPY" "$FIXTURES/infer-tool.py")

# Models written by the reference: M a fresh 3-channel F4/D3; S the same
# with out.weight x 100 (a fresh model's probabilities stay near 0.5;
# these spread over 0..1) and a 32x32 training size; G a 1-channel F4/D3,
# D the default F16/D5, both sharpened. K a fresh two-output model
# (foreground, distance) of the reference, sharpened; T a two-output model
# whose outputs are those of S and of N (M's out layer x -60), each
# output's map equal to the one-output model's. P is S normalised by
# percentiles (CSBDeep's 1 .. 99.8), P0 by 0 .. 100 (the minimum and the
# maximum); Q is sharpened M trained on patches (patch, no input_width).
setup_file() {
	local dir="$BATS_FILE_TMPDIR"
	"$REFPY" -c 'import torch' 2>/dev/null || return 0
	"$REFPY" "$REFERENCE" init --in-channels 3 --base 4 --depth 3 --seed 1 "$dir/m.safetensors"
	"$REFPY" "$REFERENCE" init --in-channels 1 --base 4 --depth 3 --seed 2 "$dir/g0.safetensors"
	"$REFPY" "$REFERENCE" init --seed 0 "$dir/d0.safetensors"
	"${TOOL[@]}" sharpen 100 "$dir/m.safetensors" "$dir/s.safetensors" input_width=32 input_height=32
	"${TOOL[@]}" sharpen 100 "$dir/g0.safetensors" "$dir/g.safetensors"
	"${TOOL[@]}" sharpen 100 "$dir/d0.safetensors" "$dir/d.safetensors"
	"$REFPY" "$REFERENCE" init --in-channels 3 --base 4 --depth 3 --seed 3 \
		--outputs foreground,distance "$dir/k0.safetensors"
	"${TOOL[@]}" sharpen 100 "$dir/k0.safetensors" "$dir/k.safetensors"
	"${TOOL[@]}" sharpen -60 "$dir/m.safetensors" "$dir/n.safetensors" input_width=32 input_height=32
	"${TOOL[@]}" stack foreground,distance "$dir/t.safetensors" "$dir/s.safetensors" "$dir/n.safetensors"
	"${TOOL[@]}" sharpen 1 "$dir/s.safetensors" "$dir/p.safetensors" normalize=percentile
	"${TOOL[@]}" sharpen 1 "$dir/s.safetensors" "$dir/p0.safetensors" normalize=percentile:0:100
	"${TOOL[@]}" sharpen 100 "$dir/m.safetensors" "$dir/q.safetensors" patch=64 normalize=maxval
}

setup() {
	TMP="$BATS_TEST_TMPDIR"
	M="$BATS_FILE_TMPDIR/m.safetensors"
	S="$BATS_FILE_TMPDIR/s.safetensors"
	G="$BATS_FILE_TMPDIR/g.safetensors"
	D="$BATS_FILE_TMPDIR/d.safetensors"
	K="$BATS_FILE_TMPDIR/k.safetensors"
	N="$BATS_FILE_TMPDIR/n.safetensors"
	T="$BATS_FILE_TMPDIR/t.safetensors"
	P="$BATS_FILE_TMPDIR/p.safetensors"
	P0="$BATS_FILE_TMPDIR/p0.safetensors"
	Q="$BATS_FILE_TMPDIR/q.safetensors"
	[[ -e $M ]] || skip "/usr/bin/python3 has no torch: no reference models"
}

# ref MODEL [M] < in > out: the reference's probabilities, on the input
# padded with zeros at the right and bottom to multiples of M (default 4)
# and cropped back (the reference itself needs multiples; on multiples this
# changes nothing). The input is saved whole before crop reads it.
ref() {
	cat >"$TMP/ref-in.pam"
	"${TOOL[@]}" pad "${2:-4}" <"$TMP/ref-in.pam" | "$REFPY" "$REFERENCE" infer "$1" |
		"${TOOL[@]}" crop "$TMP/ref-in.pam"
}

@test "equals the reference on RGB crops of several sizes (within 13/65535)" {
	ref "$S" <"$RGB" >"$TMP/ref.pam"
	unet-infer "$S" "$RGB" >"$TMP/out.pam"
	run "${TOOL[@]}" cmp "$TMP/out.pam" "$TMP/ref.pam" 13
	assert_success
	# A sharpened model spreads the probabilities: the check has teeth.
	run "${TOOL[@]}" stats <"$TMP/ref.pam"
	assert_output --regexp '^min [0-9]{1,4} max 6[0-9]{4} std [0-9]{4}'
}

@test "equals the reference on the DSB sample in data/" {
	ingest-resize --quiet --size 60x44 "$DATA/stage1_train" >"$TMP/dsb.pam"
	unet-infer "$S" "$TMP/dsb.pam" >"$TMP/out.pam"
	"$REFPY" "$REFERENCE" infer "$S" <"$TMP/dsb.pam" >"$TMP/ref.pam"
	run "${TOOL[@]}" cmp "$TMP/out.pam" "$TMP/ref.pam" 13
	assert_success
}

@test "equals the reference with the fresh model, untouched" {
	unet-infer "$M" <"$RGB" >"$TMP/out.pam"
	ref "$M" <"$RGB" >"$TMP/ref.pam"
	run "${TOOL[@]}" cmp "$TMP/out.pam" "$TMP/ref.pam" 13
	assert_success
}

@test "equals the reference on 16-bit grayscale with a 1-channel model" {
	unet-infer "$G" <"$GRAY" >"$TMP/out.pam"
	ref "$G" <"$GRAY" >"$TMP/ref.pam"
	run "${TOOL[@]}" cmp "$TMP/out.pam" "$TMP/ref.pam" 13
	assert_success
}

@test "equals the reference with the default F16/D5 model on 128x128" {
	unet-infer "$D" <"$BIG" >"$TMP/out.pam"
	"$REFPY" "$REFERENCE" infer "$D" <"$BIG" >"$TMP/ref.pam"
	run "${TOOL[@]}" cmp "$TMP/out.pam" "$TMP/ref.pam" 13
	assert_success
}

@test "a two-output model equals the reference, one channel per output (FOREGROUND_DISTANCE)" {
	ref "$K" <"$RGB" >"$TMP/ref.pam"
	unet-infer "$K" "$RGB" >"$TMP/out.pam"
	run "${TOOL[@]}" cmp "$TMP/out.pam" "$TMP/ref.pam" 13
	assert_success
	run "${TOOL[@]}" info <"$TMP/out.pam"
	assert_output "64x64 2 65535 FOREGROUND_DISTANCE id crop-64 original-size 256x256
48x32 2 65535 FOREGROUND_DISTANCE id crop-48x32
50x37 2 65535 FOREGROUND_DISTANCE id crop-50x37
64x64 2 65535 FOREGROUND_DISTANCE id crop-64b original-size 100x80"
	# Both outputs spread, and differ: writing one twice would not pass.
	for c in 0 1; do
		run "${TOOL[@]}" stats < <("${TOOL[@]}" channel "$c" <"$TMP/ref.pam")
		assert_output --regexp '^min [0-9]{1,4} max 6[0-9]{4} std [0-9]{4}'
	done
	"${TOOL[@]}" channel 0 <"$TMP/out.pam" >"$TMP/c0.pam"
	"${TOOL[@]}" channel 1 <"$TMP/out.pam" >"$TMP/c1.pam"
	run "${TOOL[@]}" cmp "$TMP/c0.pam" "$TMP/c1.pam" 10000
	assert_failure
	# The whole 128x128 image, in a batch with the crops.
	cat "$BIG" "$RGB" >"$TMP/in.pam"
	ref "$K" <"$TMP/in.pam" >"$TMP/ref.pam"
	unet-infer --batch 3 "$K" "$TMP/in.pam" >"$TMP/out.pam"
	run "${TOOL[@]}" cmp "$TMP/out.pam" "$TMP/ref.pam" 13
	assert_success
}

@test "each output of a two-output model is its own model's map: batches, tiles, --resize, --original-size" {
	cat "$BIG" "$RGB" "$BIG" >"$TMP/in.pam"
	for opts in "" "--batch 3" "--tile 76" "--memory 1" "--resize=32x32" \
		"--resize=40x24 --original-size" "--original-size --batch 2" \
		"--tta" "--tta --tile 76 --batch 2 --resize=100x60"; do
		unet-infer $opts "$T" "$TMP/in.pam" >"$TMP/two.pam"
		run "${TOOL[@]}" info <"$TMP/two.pam"
		assert_line --index 0 --regexp '^[0-9]+x[0-9]+ 2 65535 FOREGROUND_DISTANCE id crop-128 '
		c=0
		for one in "$S" "$N"; do
			unet-infer $opts "$one" "$TMP/in.pam" >"$TMP/one.pam"
			"${TOOL[@]}" channel "$c" <"$TMP/two.pam" >"$TMP/c.pam"
			run "${TOOL[@]}" cmp "$TMP/c.pam" "$TMP/one.pam" 1
			assert_success
			c=$((c + 1))
		done
	done
}

@test "a model's outputs must match its out layer: one line, exit 1" {
	local lie="$TMP/lie.safetensors" err
	for case in "$K outputs=foreground" "$M outputs=foreground,distance" \
		"$K outputs=foreground,Distance" "$K outputs=distance,foreground" \
		"$K outputs=foreground,foreground" "$K outputs=foreground," \
		"$K outputs=foreground,distance,border,centre,extra"; do
		"${TOOL[@]}" sharpen 1 "${case% *}" "$lie" "${case#* }"
		run unet-infer "$lie" "$RGB"
		assert_failure 1
		assert_one_error_line unet-infer
		assert_output --partial "unet-infer: $lie: __metadata__ outputs "
		err+="${output#*outputs }"$'\n'
	done
	assert_equal "$err" "names 1 output(s) but tensor out.weight has 2
names 2 output(s) but tensor out.weight has 1
\"foreground,Distance\": expected comma-separated names of letters a-z
\"distance,foreground\": the first must be foreground
\"foreground,foreground\": foreground twice
\"foreground,\": expected comma-separated names of letters a-z
\"foreground,distance,border,centre,extra\": more than 4 names
"
	# A one-output model may say so.
	"${TOOL[@]}" sharpen 1 "$S" "$lie" outputs=foreground
	unet-infer "$lie" "$RGB" >"$TMP/a.pam"
	unet-infer "$S" "$RGB" >"$TMP/b.pam"
	cmp "$TMP/a.pam" "$TMP/b.pam"
}

@test "tiny images: one cell of the network or less" {
	# 1x1, 5x3 and 16x16 crops; the default model works in 16x16 cells.
	for s in 1x1 5x3 16x16; do
		pamcut -width "${s%x*}" -height "${s#*x}" "$BIG"
	done | "${TOOL[@]}" pad 1 >"$TMP/tiny.pam"
	ref "$D" 16 <"$TMP/tiny.pam" >"$TMP/ref.pam"
	# 16 threads: more than the deepest level's rows (see also
	# unet-infer-threads.bats)
	for t in 1 2 16; do
		unet-infer --threads "$t" "$D" "$TMP/tiny.pam" >"$TMP/out.pam"
		run "${TOOL[@]}" cmp "$TMP/out.pam" "$TMP/ref.pam" 13 values
		assert_success
	done
}

@test "writes GRAYSCALE maxval 65535 maps of the images' sizes, ids and comments carried" {
	unet-infer "$S" "$RGB" >"$TMP/out.pam"
	run "${TOOL[@]}" info <"$TMP/out.pam"
	assert_success
	assert_output "64x64 1 65535 GRAYSCALE id crop-64 original-size 256x256
48x32 1 65535 GRAYSCALE id crop-48x32
50x37 1 65535 GRAYSCALE id crop-50x37
64x64 1 65535 GRAYSCALE id crop-64b original-size 100x80"
}

@test "the mask channel of an RGB_MASK sample is ignored" {
	unet-infer "$S" <"$SAMPLE" >"$TMP/sample.pam"
	unet-infer "$S" <"$RGB" >"$TMP/rgb.pam"
	# The same first image, byte for byte.
	cmp "$TMP/sample.pam" <(head -c "$(stat -c %s "$TMP/sample.pam")" "$TMP/rgb.pam")
}

@test "--batch and --threads do not change the result" {
	cat "$RGB" "$RGB" >"$TMP/in.pam"
	unet-infer --threads 1 --batch 1 "$S" "$TMP/in.pam" >"$TMP/a.pam"
	unet-infer --threads 2 --batch 3 "$S" "$TMP/in.pam" >"$TMP/b.pam"
	unet-infer -t 2 -b 8 "$S" "$TMP/in.pam" >"$TMP/c.pam"
	run "${TOOL[@]}" cmp "$TMP/a.pam" "$TMP/b.pam" 1
	assert_success
	run "${TOOL[@]}" cmp "$TMP/a.pam" "$TMP/c.pam" 1
	assert_success
	run "${TOOL[@]}" info <"$TMP/c.pam"
	assert_equal "${#lines[@]}" 8
}

@test "--tile equals whole-image inference" {
	unet-infer --tile 0 "$S" "$BIG" >"$TMP/whole.pam"
	# A 32-pixel margin each side for depth 3: cores of 12 and 36 pixels.
	for t in 76 100; do
		unet-infer --tile "$t" "$S" "$BIG" >"$TMP/tiled.pam"
		run "${TOOL[@]}" cmp "$TMP/tiled.pam" "$TMP/whole.pam" 1
		assert_success
	done
	# Tiled automatically for a small memory budget.
	unet-infer --memory 1 "$S" "$BIG" >"$TMP/tiled.pam"
	run "${TOOL[@]}" cmp "$TMP/tiled.pam" "$TMP/whole.pam" 1
	assert_success
	# Non-multiple sizes, and images smaller than a tile.
	cat "$BIG" "$RGB" | unet-infer --tile 0 "$S" >"$TMP/whole.pam"
	cat "$BIG" "$RGB" | unet-infer --tile 100 --batch 4 "$S" >"$TMP/tiled.pam"
	run "${TOOL[@]}" cmp "$TMP/tiled.pam" "$TMP/whole.pam" 1
	assert_success
}

@test "--tile: sizes this model cannot use are usage errors" {
	run unet-infer --tile 64 "$S" "$RGB"
	assert_failure 2
	assert_line --index 0 "unet-infer: --tile 64: this model needs a multiple of 4, at least 68"
	run unet-infer --tile 70 "$S" "$RGB"
	assert_failure 2
	run unet-infer --tile 200 "$D" "$BIG"
	assert_failure 2
	assert_line --index 0 "unet-infer: --tile 200: this model needs a multiple of 16, at least 272"
}

@test "--resize=WxH works at WxH and maps back to each image's size" {
	unet-infer --resize=32x32 "$S" "$RGB" >"$TMP/out.pam"
	run "${TOOL[@]}" info <"$TMP/out.pam"
	assert_line --index 1 "48x32 1 65535 GRAYSCALE id crop-48x32"
	assert_line --index 2 "50x37 1 65535 GRAYSCALE id crop-50x37"
	# The same probabilities as resizing first (ingest-resize uses the same
	# resampling) and writing at the original size (which ingest-resize
	# records; it adds the comment where there was none).
	ingest-resize --size 32x32 <"$RGB" | unet-infer --original-size "$S" >"$TMP/pre.pam"
	unet-infer --resize=32x32 --original-size "$S" "$RGB" >"$TMP/out.pam"
	run "${TOOL[@]}" cmp "$TMP/pre.pam" "$TMP/out.pam" 0 values
	assert_success
	# A size equal to the image's changes nothing.
	unet-infer --resize=64x64 "$S" <"$SAMPLE" >"$TMP/a.pam"
	unet-infer "$S" <"$SAMPLE" >"$TMP/b.pam"
	cmp "$TMP/a.pam" "$TMP/b.pam"
}

@test "--resize without a size uses the model's training size" {
	unet-infer --resize=32x32 "$S" "$RGB" >"$TMP/a.pam"
	unet-infer --resize "$S" "$RGB" >"$TMP/b.pam"
	cmp "$TMP/a.pam" "$TMP/b.pam"
	run unet-infer --resize "$M" "$RGB"
	assert_failure 1
	assert_one_error_line unet-infer
	assert_output "unet-infer: $M: no input_width in its metadata: give --resize=WxH"
	"${TOOL[@]}" sharpen 1 "$M" "$TMP/bad.safetensors" input_width=32 input_height=032
	run unet-infer --resize "$TMP/bad.safetensors" "$RGB"
	assert_failure 1
	assert_output "unet-infer: $TMP/bad.safetensors: metadata input_height \"032\" is not a size"
}

@test "--resize without a size, on a model trained on patches (patch, no input_width): no resizing" {
	unet-infer "$Q" "$RGB" >"$TMP/plain.pam"
	unet-infer --resize "$Q" "$RGB" >"$TMP/bare.pam"
	cmp "$TMP/bare.pam" "$TMP/plain.pam"
	# (resizing would have changed the maps)
	unet-infer --resize=32x32 "$Q" "$RGB" >"$TMP/resized.pam"
	run "${TOOL[@]}" cmp "$TMP/resized.pam" "$TMP/plain.pam" 100
	assert_failure
	# The training size, where a model has one, comes first.
	"${TOOL[@]}" sharpen 1 "$Q" "$TMP/both.safetensors" input_width=32 input_height=32
	unet-infer --resize "$TMP/both.safetensors" "$RGB" >"$TMP/both.pam"
	cmp "$TMP/both.pam" "$TMP/resized.pam"
}

@test "percentile normalisation: 8-bit, 12-bit in 16 and 16-bit copies give the same maps (within 2/65535)" {
	cat "$RGB" "$BIG" >"$TMP/in8.pam"
	"${TOOL[@]}" scale 16 65535 <"$TMP/in8.pam" >"$TMP/in12.pam"
	"${TOOL[@]}" scale 257 65535 <"$TMP/in8.pam" >"$TMP/in16.pam"
	unet-infer "$P" "$TMP/in8.pam" >"$TMP/p8.pam"
	for b in 12 16; do
		unet-infer --batch 2 "$P" "$TMP/in$b.pam" >"$TMP/p$b.pam"
		run "${TOOL[@]}" cmp "$TMP/p$b.pam" "$TMP/p8.pam" 2
		assert_success
	done
	# A maxval model sees the 12-bit copy 16/257 as bright: the check has
	# teeth.
	unet-infer "$S" "$TMP/in8.pam" >"$TMP/s8.pam"
	unet-infer "$S" "$TMP/in12.pam" >"$TMP/s12.pam"
	run "${TOOL[@]}" cmp "$TMP/s12.pam" "$TMP/s8.pam" 2
	assert_failure
	# and the percentile model's maps are not the maxval model's
	run "${TOOL[@]}" cmp "$TMP/p8.pam" "$TMP/s8.pam" 100
	assert_failure
}

@test "percentile:0:100 maps each image's minimum to 0 and maximum to 1, as maxval does on the image stretched by hand" {
	cat "$RGB" "$BIG" >"$TMP/in.pam"
	"${TOOL[@]}" stretch <"$TMP/in.pam" >"$TMP/stretched.pam"
	unet-infer "$P0" "$TMP/in.pam" >"$TMP/p0.pam"
	unet-infer "$S" "$TMP/stretched.pam" >"$TMP/s.pam"
	run "${TOOL[@]}" cmp "$TMP/p0.pam" "$TMP/s.pam" 0 values
	assert_success
	# (the images are not stretched already: maxval differs)
	unet-infer "$S" "$TMP/in.pam" >"$TMP/s-raw.pam"
	run "${TOOL[@]}" cmp "$TMP/s-raw.pam" "$TMP/s.pam" 100 values
	assert_failure
}

@test "percentile normalisation of a sample: its mask (the last channel) is no part of the image's values" {
	pamchannel -infile "$SAMPLE" -tupletype RGB 0 1 2 >"$TMP/image.pam"
	for m in "$P" "$P0"; do
		unet-infer "$m" "$SAMPLE" >"$TMP/sample.pam"
		unet-infer "$m" "$TMP/image.pam" >"$TMP/image-map.pam"
		run "${TOOL[@]}" cmp "$TMP/sample.pam" "$TMP/image-map.pam" 0 values
		assert_success
	done
}

@test "percentile normalisation of an image of one value: an input of zeros, no division by zero" {
	local v zeros=() const=()
	for ((v = 0; v < 20 * 12 * 3; v++)); do
		zeros+=(0)
		const+=(77)
	done
	mkpam 20 12 3 255 RGB flat "${zeros[@]}" >"$TMP/zeros.pam"
	mkpam 20 12 3 255 RGB flat "${const[@]}" >"$TMP/flat8.pam"
	"${TOOL[@]}" scale 257 65535 <"$TMP/flat8.pam" >"$TMP/flat16.pam"
	unet-infer "$S" "$TMP/zeros.pam" >"$TMP/want.pam"
	for f in flat8 flat16; do
		unet-infer "$P" "$TMP/$f.pam" >"$TMP/out.pam"
		cmp "$TMP/out.pam" "$TMP/want.pam"
	done
}

@test "--resize with percentile normalisation: the map of the resized image, the one the network sees" {
	ingest-resize --size 32x32 <"$RGB" | unet-infer --original-size "$P" >"$TMP/pre.pam"
	unet-infer --resize=32x32 --original-size "$P" "$RGB" >"$TMP/out.pam"
	run "${TOOL[@]}" cmp "$TMP/pre.pam" "$TMP/out.pam" 0 values
	assert_success
	unet-infer --resize=32x32 --original-size "$S" "$RGB" >"$TMP/maxval.pam"
	run "${TOOL[@]}" cmp "$TMP/maxval.pam" "$TMP/out.pam" 100 values
	assert_failure
}

@test "a normalisation unet-infer does not know: one line naming the model, exit 1" {
	for bad in zscore percentile:5:2 percentile:1 percentile:1:101 "percentile:-1:99" ""; do
		"${TOOL[@]}" sharpen 1 "$S" "$TMP/bad.safetensors" "normalize=$bad"
		run unet-infer "$TMP/bad.safetensors" "$RGB"
		assert_failure 1
		assert_one_error_line unet-infer
		assert_output --regexp "^unet-infer: $TMP/bad.safetensors: __metadata__ normalize: "
	done
	"${TOOL[@]}" sharpen 1 "$S" "$TMP/bad.safetensors" normalize=zscore
	run unet-infer "$TMP/bad.safetensors" "$RGB"
	assert_output "unet-infer: $TMP/bad.safetensors: __metadata__ normalize: 'zscore' is no normalisation (maxval, percentile or percentile:LOW:HIGH)"
	# (the known forms are accepted)
	for good in maxval percentile percentile:2:98 percentile:0:100; do
		"${TOOL[@]}" sharpen 1 "$S" "$TMP/good.safetensors" "normalize=$good"
		unet-infer "$TMP/good.safetensors" "$RGB" >/dev/null
	done
}

# tta_by_hand MODEL IN OUT: the mean of MODEL's maps of IN (one image)
# under each symmetry (pamflip), each flipped back: 8 for a square image,
# else the 4 flips.
tta_by_hand() {
	local xforms=(leftright topbottom leftright,topbottom) x back i=0 maps=()
	read -r w h _ < <("${TOOL[@]}" info <"$2" | tr x ' ')
	((w == h)) && xforms+=(transpose transpose,leftright transpose,topbottom
		transpose,leftright,topbottom)
	unet-infer "$1" "$2" >"$TMP/tta-0.pam"
	maps+=("$TMP/tta-0.pam")
	for x in "${xforms[@]}"; do
		i=$((i + 1))
		back=$(tr , '\n' <<<"$x" | tac | paste -sd,)
		pamflip -xform="$x" "$2" | unet-infer "$1" | pamflip -xform="$back" >"$TMP/tta-$i.pam"
		maps+=("$TMP/tta-$i.pam")
	done
	"${TOOL[@]}" mean "${maps[@]}" >"$3"
	[[ ${#maps[@]} -eq $((w == h ? 8 : 4)) ]]
}

@test "--tta equals the mean of the maps of the flipped and transposed images, flipped back (within 2/65535)" {
	pamcut -left 3 -top 5 -width 50 -height 37 "$BIG" >"$TMP/wide.pam"
	for f in "$BIG" "$TMP/wide.pam"; do
		tta_by_hand "$S" "$f" "$TMP/want.pam"
		unet-infer --tta "$S" "$f" >"$TMP/out.pam"
		run "${TOOL[@]}" cmp "$TMP/out.pam" "$TMP/want.pam" 2 values
		assert_success
		# TTA changes the maps: the comparison has teeth.
		unet-infer "$S" "$f" >"$TMP/plain.pam"
		run "${TOOL[@]}" cmp "$TMP/out.pam" "$TMP/plain.pam" 2 values
		assert_failure
	done
}

@test "--tta: tiled, batched and resized as without it" {
	cat "$BIG" "$RGB" "$BIG" >"$TMP/in.pam"
	unet-infer --tta --tile 0 "$S" "$TMP/in.pam" >"$TMP/whole.pam"
	for opts in "--tile 76" "--memory 1" "--batch 3" "--tile 100 --batch 4"; do
		unet-infer --tta $opts "$S" "$TMP/in.pam" >"$TMP/out.pam"
		run "${TOOL[@]}" cmp "$TMP/out.pam" "$TMP/whole.pam" 1
		assert_success
	done
	# --resize: the flips of the image the network sees, the maps resized back
	ingest-resize --size 40x40 <"$TMP/in.pam" | unet-infer --tta --original-size "$S" >"$TMP/pre.pam"
	unet-infer --tta --resize=40x40 --original-size "$S" "$TMP/in.pam" >"$TMP/out.pam"
	run "${TOOL[@]}" cmp "$TMP/out.pam" "$TMP/pre.pam" 0 values
	assert_success
}

@test "--precision bf16: within 0.005 of fp32's maps, and not their bytes where bf16 runs" {
	# D's levels 2 to 5 (32 to 256 channels) take Winograd, so bf16.
	unet-infer "$D" <"$BIG" >"$TMP/fp32.pam"
	unet-infer --precision bf16 "$D" <"$BIG" >"$TMP/bf16.pam" 2>"$TMP/err"
	run "${TOOL[@]}" cmp "$TMP/bf16.pam" "$TMP/fp32.pam" 328
	assert_success
	# Without the warning the bf16 products ran: the maps must differ
	# (13/65535 at most on this CPU, 2026-12-04).
	if [[ ! -s $TMP/err ]]; then
		refute_output "max abs diff 0"
	fi
	unet-infer --precision fp32 "$D" <"$BIG" | cmp - "$TMP/fp32.pam"
}

@test "--precision bf16 where the path has no AVX512_BF16: fp32's maps, one warning line, exit 0" {
	for isa in avx2 plain; do
		[[ $isa == plain ]] || grep -qw avx2 /proc/cpuinfo || continue
		UNETPIPE_ISA=$isa unet-infer "$D" <"$BIG" >"$TMP/fp32.pam"
		run bash -c 'UNETPIPE_ISA=$1 unet-infer --precision bf16 "$2" "$3" 2>&1 >"$4"' \
			_ "$isa" "$D" "$BIG" "$TMP/bf16.pam"
		assert_success
		assert_output "unet-infer: this CPU has no AVX512_BF16: computing in fp32"
		cmp "$TMP/bf16.pam" "$TMP/fp32.pam"
	done
}

@test "--original-size writes at the recorded size, others at their own" {
	unet-infer --original-size "$S" "$RGB" >"$TMP/out.pam"
	run "${TOOL[@]}" info <"$TMP/out.pam"
	assert_output "256x256 1 65535 GRAYSCALE id crop-64 original-size 256x256
48x32 1 65535 GRAYSCALE id crop-48x32
50x37 1 65535 GRAYSCALE id crop-50x37
100x80 1 65535 GRAYSCALE id crop-64b original-size 100x80"
	# Enlarged bilinearly, the map stays within its range.
	local min max min4 max4
	read -r _ min _ max _ < <(unet-infer "$S" <"$SAMPLE" | "${TOOL[@]}" stats)
	read -r _ min4 _ max4 _ < <(unet-infer --original-size "$S" <"$SAMPLE" | "${TOOL[@]}" stats)
	((min <= min4 && min4 < min + 300 && max4 <= max && max4 > max - 300))
}

# gray_with_size SIZE: a 16x16 GRAYSCALE image whose comment claims SIZE.
gray_with_size() {
	printf 'P7\n#id claims-%s\n#original-size %s\nWIDTH 16\nHEIGHT 16\nDEPTH 1\nMAXVAL 255\nTUPLTYPE GRAYSCALE\nENDHDR\n' "$1" "$1"
	head -c 256 /dev/zero
}

@test "--original-size: a recorded size beyond the stream limits is refused before any allocation" {
	local size
	# 40000x40000 used to write a 3.2 GB map; 2147483647x2147483647
	# aborted the sanitized build (allocation too big)
	for size in 40000x40000 32769x16 16x32769 32768x16384 2147483647x2147483647; do
		gray_with_size "$size" >"$TMP/claims.pam"
		# (the maps of an unchecked build go nowhere, not into $output)
		run bash -c 'timeout 60 unet-infer --quiet --threads 1 --original-size "$@" >/dev/null' \
			_ "$G" "$TMP/claims.pam"
		assert_failure 1
		assert_one_error_line unet-infer
		assert_output "unet-infer: $TMP/claims.pam: image 1: original size $size beyond the limits of 32768 per side and 268435456 samples"
	done
	# the maps of the images before it are written, then the error
	gray_with_size 32x24 >"$TMP/ok.pam"
	gray_with_size 40000x40000 >"$TMP/claims.pam"
	cat "$TMP/ok.pam" "$TMP/claims.pam" |
		unet-infer --quiet --threads 1 --original-size "$G" >"$TMP/out.pam" 2>"$TMP/err" && false
	assert_equal "$(cat "$TMP/err")" "unet-infer: stdin: image 2: original size 40000x40000 beyond the limits of 32768 per side and 268435456 samples"
	run "${TOOL[@]}" info <"$TMP/out.pam"
	assert_output "32x24 1 65535 GRAYSCALE id claims-32x24 original-size 32x24"
	# without --original-size the comment is only carried over
	run unet-infer --quiet --threads 1 "$G" "$TMP/claims.pam"
	assert_success
	# A map of two channels counts both: 16384x16384 is 2^29 samples.
	"${TOOL[@]}" stack foreground,distance "$TMP/g2.safetensors" "$G" "$G"
	gray_with_size 16384x16384 >"$TMP/claims.pam"
	run bash -c 'timeout 60 unet-infer --quiet --threads 1 --original-size "$@" >/dev/null' \
		_ "$TMP/g2.safetensors" "$TMP/claims.pam"
	assert_failure 1
	assert_output "unet-infer: $TMP/claims.pam: image 1: original size 16384x16384 beyond the limits of 32768 per side and 268435456 samples"
}

@test "a FIFO as the model is refused at once, never waited on" {
	mkfifo "$TMP/fifo"
	run timeout -s KILL 10 unet-infer --quiet "$TMP/fifo" "$RGB"
	assert_failure 1
	assert_output "unet-infer: $TMP/fifo: not a regular file"
}

@test "standard output appended to the input file is refused, the input intact" {
	cp "$RGB" "$TMP/in.pam"
	run bash -c 'unet-infer --quiet "$1" "$2" >>"$2"' _ "$S" "$TMP/in.pam"
	assert_failure 1
	assert_output "unet-infer: $TMP/in.pam: is also the standard output"
	cmp "$TMP/in.pam" "$RGB"
	run bash -c 'unet-infer --quiet "$1" <"$2" >>"$2"' _ "$S" "$TMP/in.pam"
	assert_failure 1
	assert_output "unet-infer: stdin: is also the standard output"
	cmp "$TMP/in.pam" "$RGB"
	# the same for the model (a stream appended to it would corrupt it)
	cp "$S" "$TMP/m.st"
	run bash -c 'unet-infer --quiet "$1" "$2" >>"$1"' _ "$TMP/m.st" "$RGB"
	assert_failure 1
	assert_output "unet-infer: $TMP/m.st: is also the standard output"
	cmp "$TMP/m.st" "$S"
}

@test "empty input gives empty output" {
	run unet-infer "$S" </dev/null
	assert_success
	assert_output ""
}

@test "an image with the wrong number of channels" {
	run unet-infer "$S" "$GRAY"
	assert_failure 1
	assert_one_error_line unet-infer
	assert_output "unet-infer: $GRAY: image 1: 1 channel, model expects 3"
	cat "$RGB" "$GRAY" | unet-infer "$S" >"$TMP/out.pam" 2>"$TMP/err" && false
	assert_equal "$(cat "$TMP/err")" "unet-infer: stdin: image 5: 1 channel, model expects 3"
	# The four good images before it were written whole, even in a batch.
	run "${TOOL[@]}" info <"$TMP/out.pam"
	assert_equal "${#lines[@]}" 4
	cat "$RGB" "$RGB" "$GRAY" | unet-infer --batch 8 "$S" >"$TMP/out.pam" 2>"$TMP/err" && false
	run "${TOOL[@]}" info <"$TMP/out.pam"
	assert_equal "${#lines[@]}" 8
	run unet-infer "$G" <"$SAMPLE"
	assert_output "unet-infer: stdin: image 1: 3 channels, model expects 1"
}

@test "a truncated stream: the images before it, then one error line" {
	head -c 13000 "$RGB" | unet-infer "$S" >"$TMP/out.pam" 2>"$TMP/err" && false
	run cat "$TMP/err"
	assert_one_error_line unet-infer
	assert_output --partial "stdin: image 2"
	run "${TOOL[@]}" info <"$TMP/out.pam"
	assert_output "64x64 1 65535 GRAYSCALE id crop-64 original-size 256x256"
}

@test "a bad image after a batch begun: the maps of the images before it, whole, at any --batch" {
	# Three images of one size, in one batch of the default 16 when the
	# fourth turns out truncated or corrupt.
	ingest-resize --size 64x64 "$DATA"/stage1_train/{0a7d*,ad9d*,55f9*} >"$TMP/three.pam"
	unet-infer --batch 1 "$S" "$TMP/three.pam" >"$TMP/want.pam"
	head -c 100 "$TMP/three.pam" >"$TMP/part.pam"
	printf 'P7\nWIDTH 64\nHEIGHT -3\nENDHDR\n' >"$TMP/junk.pam"
	for bad in part junk; do
		for b in "" "--batch 2" "--batch 16"; do
			# shellcheck disable=SC2086
			cat "$TMP/three.pam" "$TMP/$bad.pam" | unet-infer $b "$S" >"$TMP/got.pam" 2>"$TMP/err" && false
			run cat "$TMP/err"
			assert_one_error_line unet-infer
			assert_output --partial "stdin: image 4"
			cmp "$TMP/want.pam" "$TMP/got.pam"
		done
	done
}

@test "not an image stream" {
	run unet-infer "$S" "$M"
	assert_failure 1
	assert_one_error_line unet-infer
}

@test "a missing, corrupt or truncated model: one line, exit 1" {
	run unet-infer "$TMP/none.safetensors" "$RGB"
	assert_failure 1
	assert_output "unet-infer: $TMP/none.safetensors: No such file or directory"
	head -c 5000 "$S" >"$TMP/trunc.safetensors"
	run unet-infer "$TMP/trunc.safetensors" "$RGB"
	assert_failure 1
	assert_one_error_line unet-infer
	assert_output --regexp "^unet-infer: $TMP/trunc.safetensors: (header length [0-9]+ exceeds the file size|tensor .* run past the end of the data)"
	printf 'not a model at all, no' >"$TMP/junk.safetensors"
	run unet-infer "$TMP/junk.safetensors" "$RGB"
	assert_failure 1
	assert_one_error_line unet-infer
	run unet-infer "$RGB" "$RGB"
	assert_failure 1
	assert_one_error_line unet-infer
	# A safetensors file that is not our U-Net.
	"${TOOL[@]}" sharpen 1 "$M" "$TMP/lie.safetensors" depth=2
	run unet-infer "$TMP/lie.safetensors" "$RGB"
	assert_failure 1
	assert_output "unet-infer: $TMP/lie.safetensors: tensor c3.conv1.bias has shape [16], expected [4]"
}

@test "usage errors exit 2" {
	run unet-infer
	assert_failure 2
	assert_line --index 0 "unet-infer: missing MODEL"
	run unet-infer --bogus "$S"
	assert_failure 2
	assert_line --index 0 "unet-infer: unknown option '--bogus'"
	run unet-infer --batch 0 "$S"
	assert_failure 2
	run unet-infer --threads x "$S"
	assert_failure 2
	run unet-infer --resize=32 "$S"
	assert_failure 2
	run unet-infer --tile -1 "$S"
	assert_failure 2
	run unet-infer --memory 0 "$S"
	assert_failure 2
	run unet-infer "$S" "$RGB" extra
	assert_failure 2
	run unet-infer --threads
	assert_failure 2
	assert_line --index 0 "unet-infer: option '--threads' needs a value"
	run unet-infer --precision fp16 "$S" "$RGB"
	assert_failure 2
	assert_line --index 0 "unet-infer: --precision: fp32 or bf16, not 'fp16'"
}

@test "--help and --version" {
	run unet-infer --help
	assert_success
	assert_line --index 0 --partial "usage: unet-infer"
	for opt in --threads --batch --tile --memory --resize --original-size --tta --precision --quiet; do
		assert_output --partial -- "$opt"
	done
	run unet-infer --version
	assert_output --regexp '^unet-infer unetpipe [0-9]'
}

@test "-h and -V: the same as --help and --version" {
	unet-infer --help >"$TMP/help"
	run unet-infer -h
	assert_success
	assert_output "$(cat "$TMP/help")"
	assert_output --partial "  -h, --help"
	run unet-infer -V
	assert_success
	assert_output "$(unet-infer --version)"
	assert_output --regexp '^unet-infer unetpipe [0-9]+\.[0-9]+\.[0-9]+ \(kernels: (avx512|avx2|plain)\)$'
}

@test "--resize WxH: the size is no model, a usage error says to write --resize=WxH" {
	for operands in "$S" "$S $RGB"; do
		run unet-infer --resize 256x256 $operands
		assert_failure 2
		assert_line --index 0 "unet-infer: '256x256' looks like a size: write --resize=256x256"
		assert_line --index 1 "Try 'unet-infer --help' for more information."
	done
	# A model file of that name is a model.
	cp "$S" "$TMP/64x64"
	unet-infer --resize=32x32 "$S" "$RGB" >"$TMP/want.pam"
	(cd "$TMP" && unet-infer --resize 64x64 "$RGB") >"$TMP/out.pam"
	cmp "$TMP/out.pam" "$TMP/want.pam"
	# Without --resize, a missing model named like a size is just missing.
	run unet-infer 256x256 "$RGB"
	assert_failure 1
	assert_output "unet-infer: 256x256: No such file or directory"
}

@test "a PAM or any other file as the model: not a safetensors file" {
	for f in "$RGB" "$GRAY" "$TMP/eight" "$TMP/text"; do
		printf 'P7\nWIDTH' >"$TMP/eight"
		printf 'not a model at all, no' >"$TMP/text"
		run unet-infer "$f" "$RGB"
		assert_failure 1
		assert_output "unet-infer: $f: not a safetensors file"
	done
}

@test "a full disk is an error" {
	run bash -c 'unet-infer "$1" "$2" >/dev/full' _ "$S" "$RGB"
	assert_failure 1
	assert_one_error_line unet-infer
	assert_output --partial "write error"
}
