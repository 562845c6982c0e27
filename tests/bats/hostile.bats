#!/usr/bin/env bats
# Hostile input: every filter that reads a stream, a model or a JSON file
# is fed broken, absurd and mismatched data. Each must end with exit 1
# (bad data) or 2 (usage) and one line "prog: ..." on stderr, quickly,
# without a huge allocation, and leave on stdout nothing but whole images
# (or nothing at all for the JSON writers). A closed pipe may end a filter
# by SIGPIPE (status 141), the usual Unix behaviour: see unetpipe(7).
load helpers

# --------------------------------------------------------------- fixtures

setup_file() {
	local d=$BATS_FILE_TMPDIR
	export GOOD_SAMPLES=$d/samples.pam GOOD_IMAGES=$d/images.pam \
		GOOD_PROB=$d/prob.pam MODEL=$d/model.safetensors \
		SWEEP=$d/sweep.json
	cp "$ROOT/fuzz/corpus/model/f1d2.safetensors" "$MODEL"
	# Two 16x16 GRAYSCALE_MASK samples with ids, two images, their maps.
	{ sample 1; sample 2; } >"$GOOD_SAMPLES"
	{ image 1; image 2; } >"$GOOD_IMAGES"
	unet-infer --quiet --threads 1 "$MODEL" <"$GOOD_SAMPLES" >"$GOOD_PROB"
	threshold-sweep --truth "$GOOD_SAMPLES" <"$GOOD_PROB" >"$SWEEP"
}

# pam_header W H DEPTH MAXVAL TUPLTYPE [ID]
pam_header() {
	printf 'P7\n'
	[[ -z ${6:-} ]] || printf '#id %s\n' "$6"
	printf 'WIDTH %s\nHEIGHT %s\nDEPTH %s\nMAXVAL %s\nTUPLTYPE %s\nENDHDR\n' \
		"$1" "$2" "$3" "$4" "$5"
}

# n bytes of a repeating pattern (1, 255, 64, ...)
bytes() {
	yes $'\x01\xff\x40' | tr -d '\n' | head -c "$1"
}

# A 16x16 GRAYSCALE_MASK sample (maxval 255) with id sN, and an image.
sample() {
	pam_header 16 16 2 255 GRAYSCALE_MASK "s$1"
	bytes 512
}
image() {
	pam_header 16 16 1 255 GRAYSCALE "s$1"
	bytes 256
}

# The stream readers: "kind|command". The command reads the hostile
# stream on stdin; kind says which good image it wants (for the variants
# that keep a valid header but break something else); "any" takes every
# tuple type.
READERS=(
	"prob|binarize --threshold 0.5"
	"prob|label-objects"
	"label|label-render"
	"label|measure-objects"
	"prob|threshold-sweep --truth \$GOOD_SAMPLES"
	"prob|score --truth \$GOOD_SAMPLES --threshold 0.5"
	"prob|confusion-render --truth \$GOOD_SAMPLES --threshold 0.5"
	"sample|threshold-sweep --truth - \$GOOD_PROB"
	"sample|score --truth - --threshold 0.5 \$GOOD_PROB"
	"sample|confusion-render --truth - --threshold 0.5 \$GOOD_PROB"
	"image|unet-infer --quiet --threads 1 \$MODEL"
	"sample|unet-train -q --threads 1 --epochs 1 --base-filters 1 --depth 2 --val-split 0 -o \$TMP/m.safetensors"
	"sample|unet-train -q --threads 1 --epochs 1 --base-filters 1 --depth 2 --val - -o \$TMP/m.safetensors \$GOOD_SAMPLES"
	"any|sample-split --ratio 1:1 - \$TMP/s1.pam \$TMP/s2.pam"
	"any|save-images --dir \$TMP/saved"
	"any|ingest-resize --size 8x8"
	"any|augment --seed 1 --copies 2"
	"any|stream-shard --shards 2 --index 0"
	"any|stream-shard --shards 2 --output \$TMP/s%d.pam"
	"any|stream-join \$GOOD_IMAGES -"
	"any|stream-join - \$GOOD_IMAGES"
)

# Header of the good image of a kind: W H DEPTH MAXVAL TUPLTYPE.
kind_header() {
	case $1 in
	prob) echo 16 16 1 65535 GRAYSCALE ;;
	label) echo 16 16 1 65535 LABEL ;;
	sample) echo 16 16 2 255 GRAYSCALE_MASK ;;
	image | any) echo 16 16 1 255 GRAYSCALE ;;
	esac
}

good_of() {
	case $1 in
	prob) pampick 0 <"$GOOD_PROB" 2>/dev/null || head -c 1000 "$GOOD_PROB" ;;
	sample) sample 1 ;;
	label) { pam_header 16 16 1 65535 LABEL s1; bytes 512; } ;;
	image | any) image 1 ;;
	esac
}

# hostile NAME KIND: write the hostile stream NAME for a reader of KIND.
hostile() {
	local w h d m t
	read -r w h d m t < <(kind_header "$2")
	local bps=$((m > 255 ? 2 : 1)) n=$((w * h * d))
	case $1 in
	truncated-header) good_of "$2" | head -c 30 ;;
	truncated-raster) { pam_header "$w" "$h" "$d" "$m" "$t"; bytes $((n * bps - 5)); } ;;
	wrong-magic) { printf 'P9\n'; pam_header "$w" "$h" "$d" "$m" "$t" | tail -n +2; bytes $((n * bps)); } ;;
	garbage) bytes 3000 | tr '\001' 'P' ;;
	wrong-tuple-type) { pam_header "$w" "$h" "$d" "$m" FOO; bytes $((n * bps)); } ;;
	wrong-depth) { pam_header "$w" "$h" $((d + 1)) "$m" "$t"; bytes $(((n + w * h) * bps)); } ;;
	rgb-for-gray) { pam_header "$w" "$h" 3 255 RGB; bytes $((w * h * 3)); } ;;
	maxval-0) { pam_header "$w" "$h" "$d" 0 "$t"; bytes "$n"; } ;;
	maxval-65536) { pam_header "$w" "$h" "$d" 65536 "$t"; bytes $((n * 2)); } ;;
	value-over-maxval) { pam_header "$w" "$h" "$d" 1 "$t"; bytes "$n"; } ;;
	size-1000000x1000000) { pam_header 1000000 1000000 "$d" "$m" "$t"; bytes 100; } ;;
	overflow-32bit) { pam_header 65536 65536 "$d" "$m" "$t"; bytes 100; } ;;
	overflow-samples) { pam_header 32768 32768 "$d" "$m" "$t"; bytes 100; } ;;
	overflow-64bit) { pam_header 4294967297 4294967297 "$d" "$m" "$t"; bytes 100; } ;;
	depth-huge) { pam_header 2 2 4294967295 "$m" "$t"; bytes 100; } ;;
	width-negative) { pam_header -16 16 "$d" "$m" "$t"; bytes 100; } ;;
	width-0) { pam_header 0 16 "$d" "$m" "$t"; bytes 100; } ;;
	plain-huge) printf 'P2\n1000000 1000000\n255\n1 2 3\n' ;;
	raw-pgm-huge) printf 'P5\n2147483647 2147483647\n255\n' ;;
	good-then-truncated) { good_of "$2"; good_of "$2" | head -c 60; } ;;
	good-then-garbage) { good_of "$2"; printf 'junk\n'; } ;;
	esac
}

HOSTILE=(truncated-header truncated-raster wrong-magic garbage
	wrong-tuple-type wrong-depth rgb-for-gray maxval-0 maxval-65536
	value-over-maxval size-1000000x1000000 overflow-32bit
	overflow-samples overflow-64bit depth-huge width-negative width-0
	plain-huge raw-pgm-huge good-then-truncated good-then-garbage)

# Memory cap for the runs: ASan reserves terabytes of address space, so
# only the plain build can be held to ulimit -v.
vmem_cap() {
	if [[ -n ${UNETPIPE_SANITIZED:-} ]]; then
		echo unlimited
	else
		echo 400000 # KiB: less than one image at the size limit
	fi
}

# The one-line failure of prog: status 1 or 2, one stderr line "prog: ",
# no "out of memory" (a refusal must come before the allocation).
assert_refused() {
	local prog=$1
	if ((status != 1 && status != 2)); then
		echo "status $status, expected 1 or 2; stderr: $output" >&2
		return 1
	fi
	assert_equal "${#lines[@]}" 1
	assert_regex "${lines[0]}" "^$prog: "
	refute_output --partial "out of memory"
}

# The same, except that "out of memory" is the expected refusal.
assert_refused_oom() {
	assert_equal "${#lines[@]}" 1
	assert_equal "${lines[0]%% (*}" "$1: out of memory"
}

# stdout of a failed run holds nothing or only whole images (PAM) / nothing
# (JSON writers).
assert_whole_images() {
	local f=$1
	[[ ! -s $f ]] && return 0
	if [[ $(head -c 1 "$f") == "{" ]]; then
		echo "JSON report written by a failed run" >&2
		return 1
	fi
	# measure-objects: CSV rows, each whole (as many fields as the header,
	# a newline at the end)
	if [[ $(head -c 15 "$f") == image,id,label, ]]; then
		[[ $(tail -c 1 "$f" | od -An -c) == *'\n'* ]] &&
			awk -F, 'NR == 1 { n = NF } NF != n { exit 1 }' "$f"
		return
	fi
	pamfile -allimages "$f" >/dev/null
}

# Every file save-images left is a whole image, no temporary file.
saved_whole() {
	local f
	for f in "$TMP"/saved/*; do
		[[ -e $f ]] || continue
		case $f in
		*.png) pngtopam "$f" >/dev/null ;;
		*.pam) pamfile "$f" >/dev/null ;;
		*) echo "stray file $f" >&2; return 1 ;;
		esac || return 1
	done
}

# run_hostile CMD FILE: run CMD with FILE on stdin, stdout to $TMP/out,
# under a time limit and the memory cap.
run_hostile() {
	rm -rf "$TMP/out" "$TMP/saved" "$TMP"/s?.pam
	mkdir -p "$TMP/saved"
	run bash -c "ulimit -v $(vmem_cap); exec timeout -k 5 20 $1 <'$2' >'$TMP/out'"
}

# ------------------------------------------------------------ the matrix

@test "hostile PAM streams: every reader refuses each with one line, no partial image" {
	local failures=0 entry kind cmd prog name
	for entry in "${READERS[@]}"; do
		kind=${entry%%|*}
		cmd=$(eval echo "\"${entry#*|}\"")
		prog=${cmd%% *}
		for name in "${HOSTILE[@]}"; do
			[[ $kind == any && $name == rgb-for-gray ]] && continue
			hostile "$name" "$kind" >"$TMP/in"
			run_hostile "$cmd" "$TMP/in"
			# save-images lists the files it wrote on stdout
			[[ $prog != save-images ]] || : >"$TMP/out"
			if ! (assert_refused "$prog" && assert_whole_images "$TMP/out" &&
				{ [[ ! -e $TMP/s1.pam ]] || pamfile -allimages "$TMP"/s?.pam >/dev/null; } &&
				saved_whole) 2>"$TMP/why"; then
				echo "# $name | $cmd: status $status" >&3
				sed 's/^/#   /' "$TMP/why" >&3
				failures=$((failures + 1))
			fi
		done
	done
	((failures == 0))
}

@test "empty input: an empty stream or a clear one-line refusal, never a crash" {
	local failures=0 entry cmd prog
	: >"$TMP/empty"
	for entry in "${READERS[@]}"; do
		cmd=$(eval echo "\"${entry#*|}\"")
		prog=${cmd%% *}
		run_hostile "$cmd" "$TMP/empty"
		if ((status == 0)); then
			# a JSON report of nothing, an empty stream, or a CSV
			# header line alone
			[[ ! -s $TMP/out ]] || jq -e . "$TMP/out" >/dev/null ||
				[[ $(wc -l <"$TMP/out") == 1 && $(head -c 15 "$TMP/out") == image,id,label, ]] ||
				pamfile -allimages "$TMP/out" >/dev/null || {
				echo "# $cmd: bad output on empty input" >&3
				failures=$((failures + 1))
			}
		elif ! assert_refused "$prog" 2>/dev/null; then
			echo "# $cmd: status $status: $output" >&3
			failures=$((failures + 1))
		fi
	done
	((failures == 0))
}

@test "a stream that goes bad after good images: the good ones out whole, then one line" {
	local cmd
	for cmd in "binarize --threshold 0.5" "unet-infer --quiet --threads 1 $MODEL"; do
		case $cmd in
		binarize*) { cat "$GOOD_PROB"; head -c 70 "$GOOD_PROB"; } >"$TMP/in" ;;
		*) { cat "$GOOD_IMAGES"; head -c 70 "$GOOD_IMAGES"; } >"$TMP/in" ;;
		esac
		run_hostile "$cmd" "$TMP/in"
		assert_refused "${cmd%% *}"
		assert_output --partial "image 3"
		run pamfile -allimages "$TMP/out"
		assert_success
		assert_equal "$(grep -c 'Image [0-9]' <<<"$output")" 2
	done
}

# ------------------------------------------------ pairs of streams (evalpair)

@test "mismatched prediction and truth: sizes, counts, ids" {
	local prog cmd
	pamcut -width 8 -height 8 0 0 <"$GOOD_SAMPLES" >"$TMP/small.pam" 2>/dev/null ||
		{ pam_header 8 8 2 255 GRAYSCALE_MASK s1; bytes 128; } >"$TMP/small.pam"
	pampick 0 <"$GOOD_SAMPLES" >"$TMP/one-truth.pam" 2>/dev/null
	sed '0,/^#id s1$/s//#id other/' "$GOOD_PROB" >"$TMP/other-id.pam"
	{ cat "$GOOD_PROB"; pampick 0 <"$GOOD_PROB"; } >"$TMP/three.pam" 2>/dev/null
	for prog in threshold-sweep score confusion-render; do
		cmd="$prog --truth"
		[[ $prog == threshold-sweep ]] || cmd="$prog --threshold 0.5 --truth"
		run_hostile "$cmd $TMP/small.pam" "$GOOD_PROB"
		assert_refused "$prog"
		assert_output --partial "size"
		assert_whole_images "$TMP/out"
		# counts: more predictions than truths and the other way round
		run_hostile "$cmd $GOOD_SAMPLES" "$TMP/three.pam"
		assert_refused "$prog"
		assert_whole_images "$TMP/out"
		pampick 0 <"$GOOD_PROB" >"$TMP/one-pred.pam" 2>/dev/null
		run_hostile "$cmd $GOOD_SAMPLES" "$TMP/one-pred.pam"
		assert_refused "$prog"
		assert_whole_images "$TMP/out"
		# ids
		run_hostile "$cmd $GOOD_SAMPLES" "$TMP/other-id.pam"
		assert_refused "$prog"
		assert_output --partial "other"
		assert_whole_images "$TMP/out"
		# the same stream given twice as stdin
		run_hostile "$cmd -" "$GOOD_PROB"
		assert_equal "$status" 2
	done
}

# ---------------------------------------------------------------- models

# le64 N: N as 8 little-endian bytes (printf escapes)
le64() {
	local i s=
	for ((i = 0; i < 8; i++)); do s+=$(printf '\\%03o' $((($1 >> (8 * i)) & 255))); done
	printf "$s"
}

# model_with_header JQ_FILTER OUT: the model with its JSON header edited.
model_with_header() {
	local n hdr
	n=$(od -An -tu8 -N8 "$MODEL" | tr -d ' ')
	hdr=$(tail -c +9 "$MODEL" | head -c "$n" | jq -c "$1")
	{ le64 ${#hdr}; printf '%s' "$hdr"; tail -c +$((9 + n)) "$MODEL"; } >"$2"
}

# flip_byte FILE OFFSET: replace the byte at OFFSET with its complement.
flip_byte() {
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	printf "$(printf '\\%03o' $((255 - b)))" |
		dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# A model is either refused with one line or works: never anything else.
check_model() {
	local cmd
	for cmd in "unet-infer --quiet --threads 1 $1" \
		"unet-train -q --threads 1 --epochs 1 --val-split 0 -o $TMP/t.safetensors --init $1"; do
		run_hostile "$cmd" "$GOOD_SAMPLES"
		if ((status == 0)); then
			[[ $cmd == unet-train* ]] || pamfile -allimages "$TMP/out" >/dev/null ||
				{ echo "# $2: $cmd: bad output" >&3; return 1; }
		elif ! assert_refused "${cmd%% *}" 2>/dev/null; then
			echo "# $2: $cmd: status $status: $output" >&3
			return 1
		else
			assert_whole_images "$TMP/out" || return 1
		fi
	done
}

@test "hostile models: other architecture, bad metadata, truncated, corrupted, not a model" {
	local size n failures=0 f off
	size=$(stat -c %s "$MODEL")
	n=$(od -An -tu8 -N8 "$MODEL" | tr -d ' ')
	model_with_header '.__metadata__.arch = "resnet"' "$TMP/arch.st"
	model_with_header 'del(.__metadata__.arch)' "$TMP/noarch.st"
	model_with_header '.__metadata__.depth = "3"' "$TMP/depth.st"
	model_with_header '.__metadata__.depth = "99999999999"' "$TMP/depth-huge.st"
	model_with_header '.__metadata__.base_filters = "1024"' "$TMP/wide.st"
	model_with_header '.__metadata__.in_channels = "3"' "$TMP/rgb.st"
	model_with_header '.__metadata__.in_channels = 3' "$TMP/int-meta.st"
	model_with_header '(.[keys_unsorted[] | select(. != "__metadata__")] |= (.dtype = "F16"))' "$TMP/f16.st"
	model_with_header '(.[keys_unsorted[] | select(. != "__metadata__")] |= (.data_offsets = [0, 4]))' "$TMP/offsets.st"
	model_with_header '(.[keys_unsorted[] | select(. != "__metadata__")] |= (.shape = [4294967296, 4294967296, 4294967296]))' "$TMP/shape.st"
	head -c $((size - 10)) "$MODEL" >"$TMP/trunc-data.st"
	head -c $((8 + n / 2)) "$MODEL" >"$TMP/trunc-header.st"
	head -c 5 "$MODEL" >"$TMP/trunc-length.st"
	: >"$TMP/empty.st"
	{ le64 $((1 << 62)); tail -c +9 "$MODEL"; } >"$TMP/length-huge.st"
	{ le64 $((n + 4)); tail -c +9 "$MODEL"; } >"$TMP/length-off.st"
	{ printf '\377\377\377\377\377\377\377\377'; tail -c +9 "$MODEL"; } >"$TMP/length-max.st"
	mkdir "$TMP/dir.st"
	cp "$GOOD_SAMPLES" "$TMP/pam.st"
	for f in arch noarch depth depth-huge wide rgb int-meta f16 offsets shape \
		trunc-data trunc-header trunc-length empty length-huge length-off \
		length-max dir pam; do
		check_model "$TMP/$f.st" "$f" || failures=$((failures + 1))
	done
	# byte flips: the length field, the JSON header, the tensor data
	for off in 0 3 7 8 9 20 $((n / 2)) $((n + 5)) $((n + 8 + 1)) \
		$((n + 8 + 3)) $((size - 1)) $((size - 3)); do
		cp "$MODEL" "$TMP/flip.st"
		flip_byte "$TMP/flip.st" "$off"
		check_model "$TMP/flip.st" "flip at $off" || failures=$((failures + 1))
	done
	run_hostile "unet-infer --quiet $TMP/nowhere.st" "$GOOD_SAMPLES"
	assert_refused unet-infer
	((failures == 0))
}

@test "a model of another architecture is named as such" {
	model_with_header '.__metadata__.arch = "resnet"' "$TMP/arch.st"
	run_hostile "unet-infer --quiet $TMP/arch.st" "$GOOD_IMAGES"
	assert_refused unet-infer
	assert_output --partial resnet
	model_with_header '.__metadata__.in_channels = "3"' "$TMP/rgb.st"
	run_hostile "unet-infer --quiet $TMP/rgb.st" "$GOOD_IMAGES"
	assert_refused unet-infer
	assert_output --partial "expected [1, 3, 3, 3]"
	# metadata that would cost a gigabyte: refused before the allocation
	model_with_header '.__metadata__.base_filters = "2048"' "$TMP/wide.st"
	run_hostile "unet-infer --quiet --threads 1 $TMP/wide.st" "$GOOD_IMAGES"
	assert_refused unet-infer
	assert_output --partial "too few for base_filters 2048 and depth 2"
	{ pam_header 16 16 3 255 RGB; bytes 768; } >"$TMP/rgb.pam"
	run_hostile "unet-infer --quiet $MODEL" "$TMP/rgb.pam"
	assert_refused unet-infer
	assert_output --partial "channel"
}

# ------------------------------------------------------------ JSON inputs

SWEEP_HOSTILE=(
	'{"best":{"threshold":0.5},"best":{"threshold":0.2}}'
	'{"best":{"threshold":0.5,"threshold":0.2}}'
	'{"best":{"threshold":NaN}}'
	'{"best":{"threshold":nan}}'
	'{"best":{"threshold":Infinity}}'
	'{"best":{"threshold":1e999}}'
	'{"best":{"threshold":1.5}}'
	'{"best":{"threshold":-0.1}}'
	'{"best":{"threshold":"0.5"}}'
	'{"best":{"threshold":null}}'
	'{"best":0.5}'
	'{"thresholds":[]}'
	'[0.5]'
	'{"best":{"threshold":0.5}'
	'{"best":{"threshold":0.5}} trailing'
	''
	'not json'
)

@test "hostile sweep files: score, binarize and confusion-render --threshold-from" {
	local failures=0 i j cmd prog
	for ((i = 0; i < ${#SWEEP_HOSTILE[@]}; i++)); do
		printf '%s' "${SWEEP_HOSTILE[i]}" >"$TMP/sweep$i.json"
	done
	printf '%*s' 100000 '' | tr ' ' '[' >"$TMP/sweep$i.json" # deep nesting
	i=$((i + 1))
	head -c 5000 /dev/urandom >"$TMP/sweep$i.json"
	i=$((i + 1))
	mkdir "$TMP/sweep$i.json"
	for ((j = 0; j <= i; j++)); do
		for cmd in "binarize --threshold-from $TMP/sweep$j.json" \
			"score --truth $GOOD_SAMPLES --threshold-from $TMP/sweep$j.json" \
			"confusion-render --truth $GOOD_SAMPLES --threshold-from $TMP/sweep$j.json"; do
			prog=${cmd%% *}
			run_hostile "$cmd" "$GOOD_PROB"
			if ! (assert_refused "$prog" && assert_whole_images "$TMP/out") 2>/dev/null; then
				echo "# sweep$j.json ($(head -c 60 "$TMP/sweep$j.json" 2>/dev/null | tr -cd '[:print:]')): $prog: status $status: $output" >&3
				failures=$((failures + 1))
			fi
		done
	done
	((failures == 0))
}

CURVES_HOSTILE=(
	'{"epoch":1,"train_loss":0.5,"train_loss":0.4}'
	'{"epoch":1,"epoch":2,"train_loss":0.5}'
	'{"epoch":1,"train_loss":NaN}'
	'{"epoch":1,"train_loss":Infinity}'
	'{"epoch":1,"train_loss":-Infinity}'
	'{"epoch":1,"train_loss":1e999}'
	'{"epoch":1,"train_loss":"0.5"}'
	'{"epoch":1,"train_loss":null}'
	'{"epoch":1.5,"train_loss":0.5}'
	'{"epoch":"1","train_loss":0.5}'
	'{"train_loss":0.5}'
	'{"epoch":1}'
	'[1,0.5]'
	'{"epoch":2,"train_loss":0.5}\n{"epoch":1,"train_loss":0.4}'
	'{"epoch":1,"train_loss":0.5,"val_loss":0.4}\n{"epoch":2,"train_loss":0.4}'
	'{"epoch":1,"train_loss":0.5}\n{"epoch":2,"train_loss":0.4'
	'{"epoch":1,"train_loss":0.5} {"epoch":2,"train_loss":0.4}'
	'{"epoch":99999999999999999999,"train_loss":0.5}'
	''
	'\n\n  \n'
)

@test "hostile training logs: train-curves" {
	local failures=0 i
	for ((i = 0; i < ${#CURVES_HOSTILE[@]}; i++)); do
		printf "${CURVES_HOSTILE[i]}" >"$TMP/log$i.jsonl"
	done
	head -c 20000 /dev/urandom >"$TMP/log$i.jsonl"
	i=$((i + 1))
	{ printf '{"epoch":1,"train_loss":0.5,"x":"'; head -c 3000000 /dev/zero | tr '\0' a; printf '"}\n'; } >"$TMP/log$i.jsonl"
	for ((j = 0; j < i; j++)); do
		run_hostile "train-curves" "$TMP/log$j.jsonl"
		if ! (assert_refused train-curves && assert_whole_images "$TMP/out") 2>/dev/null; then
			echo "# log$j.jsonl ($(head -c 60 "$TMP/log$j.jsonl" | tr -cd '[:print:]')): status $status: $output" >&3
			failures=$((failures + 1))
		fi
	done
	# A long line that is valid is read whole.
	run_hostile "train-curves -q" "$TMP/log$i.jsonl"
	assert_success
	run pamfile "$TMP/out"
	assert_success
	((failures == 0))
}

@test "extreme but valid training logs are drawn, quickly" {
	local log
	for log in '{"epoch":1,"train_loss":1e308}\n{"epoch":2,"train_loss":-1e308}' \
		'{"epoch":1,"train_loss":0.5}\n{"epoch":9000000000000000000,"train_loss":0.4}' \
		'{"epoch":-9000000000000000000,"train_loss":0.5}\n{"epoch":9000000000000000000,"train_loss":0.4}' \
		'{"epoch":1,"train_loss":5e-324,"val_loss":0,"val_dice":1e300,"val_iou":-1e300}' \
		'{"epoch":1,"train_loss":0.5}\n{"epoch":2,"train_loss":0.5}\n{"epoch":3,"train_loss":0.5}'; do
		printf "$log" >"$TMP/log.jsonl"
		run_hostile "train-curves -q" "$TMP/log.jsonl"
		if ((status == 0)); then
			run pamfile "$TMP/out"
			assert_success
		else
			assert_refused train-curves
		fi
	done
}

# --------------------------------------------------------------- options

BAD_OPTIONS=(
	"binarize --threshold 2"
	"binarize --threshold nan"
	"binarize --threshold 1e999"
	"binarize --maxval 7"
	"binarize --threshold 0.5 --threshold-from /dev/null"
	"threshold-sweep --truth x --step 0"
	"threshold-sweep --truth x --step -0.1"
	"threshold-sweep --truth x --from 1 --to 0"
	"threshold-sweep --truth x --from nan"
	"threshold-sweep"
	"score --truth x --connectivity 6"
	"score --truth x --threshold -1"
	"score"
	"confusion-render --truth x --alpha 2"
	"confusion-render --truth x --threshold inf"
	"unet-infer --threads 0 m"
	"unet-infer --threads 99999999999999999999 m"
	"unet-infer --batch 0 m"
	"unet-infer --tile -1 m"
	"unet-infer --memory 0 m"
	"unet-infer --resize=0x0 m"
	"unet-infer --resize=99999999x99999999 m"
	"unet-infer"
	"unet-train -o m --epochs -1"
	"unet-train -o m --batch 0"
	"unet-train -o m --lr nan"
	"unet-train -o m --lr -1"
	"unet-train -o m --depth 99"
	"unet-train -o m --base-filters 0"
	"unet-train -o m --base-filters 100000"
	"unet-train -o m --val-split 1.5"
	"unet-train -o m --patience -1"
	"unet-train -o m --pos-weight nan"
	"unet-train -o m --threads 0"
	"unet-train"
	"sample-split --ratio 0:0 - a b"
	"sample-split --ratio 1:-1 - a b"
	"sample-split --ratio 99999999999999999999:1 - a b"
	"sample-split --folds 1 - a"
	"sample-split --folds 2 --fold 3 - a b"
	"sample-split --ratio 1:1 - a"
	"ingest-resize --size 0x0"
	"ingest-resize --size 99999999x1"
	"ingest-resize --size 16"
	"ingest-resize --channels 2"
	"save-images"
	"save-images --dir x --format jpeg"
	"train-curves -W 10"
	"train-curves -H 99999999999"
	"train-curves --overfit-margin nan"
	"train-curves --overfit-epochs 0"
	"augment --copies 0"
	"augment --copies -1"
	"augment --copies 99999999999999999999"
	"augment --ops frobnicate"
	"augment --seed -1"
	"stream-shard --shards 0 --index 0"
	"stream-shard --shards 2 --index 2"
	"stream-shard --shards 2 --output x"
	"stream-join"
)

@test "option values out of range: exit 2 with the program's message first" {
	local failures=0 cmd
	cd "$TMP"
	for cmd in "${BAD_OPTIONS[@]}"; do
		run bash -c "timeout 20 $cmd </dev/null >'$TMP/out'"
		if ((status != 2)) || [[ ! ${lines[0]} =~ ^${cmd%% *}:\  ]] || [[ -s $TMP/out ]]; then
			echo "# $cmd: status $status: ${lines[0]:-}" >&3
			failures=$((failures + 1))
		fi
	done
	((failures == 0))
}

# ---------------------------------------------------------------- output

# Each stdout writer with good input: "prog|command|input".
WRITERS=(
	"binarize|binarize --threshold 0.5|\$GOOD_PROB"
	"threshold-sweep|threshold-sweep --truth \$GOOD_SAMPLES|\$GOOD_PROB"
	"score|score --truth \$GOOD_SAMPLES --threshold 0.5|\$GOOD_PROB"
	"confusion-render|confusion-render --truth \$GOOD_SAMPLES --threshold 0.5|\$GOOD_PROB"
	"unet-infer|unet-infer --quiet --threads 1 \$MODEL|\$GOOD_IMAGES"
	"ingest-resize|ingest-resize --size 8x8|\$GOOD_IMAGES"
	"train-curves|train-curves -q|\$FIXTURES/curves-overfit.jsonl"
	"augment|augment --seed 1 --copies 2|\$GOOD_SAMPLES"
	"stream-shard|stream-shard --shards 1 --index 0|\$GOOD_SAMPLES"
	"stream-join|stream-join - \$GOOD_SAMPLES|\$GOOD_SAMPLES"
)

@test "> /dev/full: every writer fails with one line" {
	local failures=0 entry prog cmd in
	for entry in "${WRITERS[@]}"; do
		IFS='|' read -r prog cmd in <<<"$entry"
		cmd=$(eval echo "\"$cmd\"")
		in=$(eval echo "$in")
		run bash -c "timeout 20 $cmd <'$in' >/dev/full"
		if ! assert_refused "$prog" 2>/dev/null || ! assert_output --partial "write error" 2>/dev/null; then
			echo "# $cmd > /dev/full: status $status: $output" >&3
			failures=$((failures + 1))
		fi
	done
	# the writers to files
	run unet-train -q --threads 1 --epochs 1 --base-filters 1 --depth 2 \
		--val-split 0 --log /dev/full -o "$TMP/m.safetensors" "$GOOD_SAMPLES"
	assert_refused unet-train
	assert_output --partial /dev/full
	((failures == 0))
}

@test "outputs replaced by rename must be regular files: a device or FIFO is refused, not replaced" {
	mkfifo "$TMP/fifo"
	run sample-split --ratio 1:1 "$GOOD_SAMPLES" "$TMP/fifo" "$TMP/b.pam"
	assert_refused sample-split
	assert_output --partial "not a regular file"
	[[ -p $TMP/fifo && ! -e $TMP/b.pam ]]
	run unet-train -q --threads 1 --epochs 1 --base-filters 1 --depth 2 \
		--val-split 0 -o "$TMP/fifo" "$GOOD_SAMPLES"
	assert_refused unet-train
	assert_output --partial "not a regular file"
	[[ -p $TMP/fifo ]]
	ln -s /dev/null "$TMP/null"
	run sample-split --ratio 1:1 "$GOOD_SAMPLES" "$TMP/null" "$TMP/b.pam"
	assert_refused sample-split
	[[ -L $TMP/null && -c /dev/null ]]
}

@test "closed stdout: one line (exit 1); a reader gone: SIGPIPE or one line, never a hang" {
	local failures=0 entry prog cmd in
	for entry in "${WRITERS[@]}"; do
		IFS='|' read -r prog cmd in <<<"$entry"
		cmd=$(eval echo "\"$cmd\"")
		in=$(eval echo "$in")
		run bash -c "exec 1>&-; timeout 20 $cmd <'$in'"
		if ! assert_refused "$prog" 2>/dev/null; then
			echo "# $cmd (stdout closed): status $status: $output" >&3
			failures=$((failures + 1))
		fi
		# A reader that goes away at once: the filter either finished
		# into the pipe buffer (0, with at most the warning of a
		# degenerate result), died by SIGPIPE (141) or said so.
		run bash -c "timeout 20 $cmd <'$in' | head -c 0; exit \${PIPESTATUS[0]}"
		case $status in
		0 | 141) ((${#lines[@]} == 0)) ||
			[[ ${#lines[@]} == 1 && ${lines[0]} == "$prog: warning: "* ]] ||
			failures=$((failures + 1)) ;;
		1) assert_refused "$prog" 2>/dev/null || failures=$((failures + 1)) ;;
		*) echo "# $cmd | head -c 0: status $status: $output" >&3
		   failures=$((failures + 1)) ;;
		esac
	done
	# A long stream into a reader that quits: SIGPIPE, not a hang.
	for i in $(seq 200); do cat "$GOOD_PROB"; done >"$TMP/long.pam"
	run bash -c "timeout 20 binarize --threshold 0.5 <'$TMP/long.pam' | head -c 10 >/dev/null; exit \${PIPESTATUS[0]}"
	assert_equal "$status" 141
	assert_output ""
	((failures == 0))
}

# ------------------------------------------------------------ PNG input

@test "hostile PNG files: ingest-resize refuses each with one line" {
	local failures=0 f
	local png=$ROOT/fuzz/corpus/png/rgb.png size
	size=$(stat -c %s "$png")
	head -c 8 "$png" >"$TMP/sig-only.png"
	head -c $((size - 20)) "$png" >"$TMP/truncated.png"
	head -c 30 "$png" >"$TMP/trunc-ihdr.png"
	cp "$png" "$TMP/bad-crc.png"
	flip_byte "$TMP/bad-crc.png" 20
	cp "$png" "$TMP/bad-data.png"
	flip_byte "$TMP/bad-data.png" $((size - 18))
	# IHDR of 1000000 x 1000000 (CRC made valid would need a tool: libpng
	# checks the CRC first, the size check is in the fuzz corpus)
	cp "$png" "$TMP/huge.png"
	printf '\000\017\102\100\000\017\102\100' |
		dd of="$TMP/huge.png" bs=1 seek=16 conv=notrunc status=none
	printf '\211PNG\r\n\032\n' >"$TMP/header-only.png"
	head -c 2000 /dev/urandom >"$TMP/garbage.png"
	for f in sig-only truncated trunc-ihdr bad-crc bad-data huge header-only garbage; do
		run bash -c "ulimit -v $(vmem_cap); timeout 20 ingest-resize --size 8x8 '$TMP/$f.png' >'$TMP/out'"
		if ! (assert_refused ingest-resize && assert_whole_images "$TMP/out") 2>/dev/null; then
			echo "# $f.png: status $status: $output" >&3
			failures=$((failures + 1))
		fi
	done
	((failures == 0))
}

# ---------------------------------------------------- fuzzing regressions

@test "the fuzzers' crash inputs (fuzz/regressions) are refused or read, never crash" {
	local failures=0 f cmd
	shopt -s nullglob
	for f in "$ROOT"/fuzz/regressions/pam/*; do
		for cmd in "binarize --threshold 0.5" "ingest-resize" \
			"sample-split --ratio 1:1 - $TMP/a.pam $TMP/b.pam" \
			"unet-infer --quiet --threads 1 $MODEL"; do
			run_hostile "$cmd" "$f"
			((status <= 1 && ${#lines[@]} <= 1)) || {
				echo "# $f | $cmd: status $status: $output" >&3
				failures=$((failures + 1))
			}
		done
		# what a filter wrote, it reads back (long comment lines were
		# written whole and broke libnetpbm's 255-character header lines)
		ingest-resize <"$f" >"$TMP/once.pam" 2>/dev/null || true
		run bash -c "ingest-resize <'$TMP/once.pam' >'$TMP/twice.pam'"
		assert_success
		cmp "$TMP/once.pam" "$TMP/twice.pam"
	done
	for f in "$ROOT"/fuzz/regressions/png/*; do
		run_hostile "ingest-resize $f" /dev/null
		((status <= 1 && ${#lines[@]} <= 1)) || failures=$((failures + 1))
	done
	for f in "$ROOT"/fuzz/regressions/{safetensors,model}/*; do
		run_hostile "unet-infer --quiet --threads 1 $f" "$GOOD_IMAGES"
		((status <= 1 && ${#lines[@]} <= 1)) || failures=$((failures + 1))
	done
	for f in "$ROOT"/fuzz/regressions/sweep/*; do
		run_hostile "binarize --threshold-from $f" "$GOOD_PROB"
		((status <= 1 && ${#lines[@]} <= 1)) || failures=$((failures + 1))
	done
	for f in "$ROOT"/fuzz/regressions/curves/*; do
		run_hostile "train-curves -q" "$f"
		((status <= 1 && ${#lines[@]} <= 1)) || {
			echo "# $f | train-curves: status $status: $output" >&3
			failures=$((failures + 1))
		}
	done
	((failures == 0))
}

# -------------------------------------------------- leaks on normal runs

@test "normal runs leak nothing (sanitized build only)" {
	[[ -n ${UNETPIPE_SANITIZED:-} ]] || skip "not the sanitized build (make check SANITIZE=1)"
	local failures=0 entry prog cmd in
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1
	for entry in "${WRITERS[@]}"; do
		IFS='|' read -r prog cmd in <<<"$entry"
		cmd=$(eval echo "\"$cmd\"")
		in=$(eval echo "$in")
		run bash -c "$cmd <'$in' >/dev/null"
		if ((status != 0)); then
			echo "# $cmd: status $status: $output" >&3
			failures=$((failures + 1))
		fi
	done
	run sample-split --ratio 1:1 "$GOOD_SAMPLES" "$TMP/a.pam" "$TMP/b.pam"
	assert_success
	run save-images --dir "$TMP" "$GOOD_SAMPLES"
	assert_success
	run unet-train -q --threads 1 --epochs 2 --base-filters 1 --depth 2 \
		--log "$TMP/log" -o "$TMP/m.safetensors" "$GOOD_SAMPLES"
	assert_success
	((failures == 0))
}

# ------------------------------------------------------- resource bounds

@test "unet-train on a stream larger than memory: out of memory, one line" {
	[[ -z ${UNETPIPE_SANITIZED:-} ]] || skip "ulimit -v does not work with ASan"
	{ pam_header 1024 1024 2 255 GRAYSCALE_MASK; head -c 2097152 /dev/zero; } >"$TMP/big.pam"
	run bash -c "ulimit -v 300000; while cat '$TMP/big.pam' 2>/dev/null; do :; done |
		timeout 60 unet-train -q --threads 1 --base-filters 1 --depth 2 -o '$TMP/m.safetensors'; exit \${PIPESTATUS[1]}"
	assert_equal "$status" 1
	assert_refused_oom unet-train
	[[ ! -e $TMP/m.safetensors ]]
}
