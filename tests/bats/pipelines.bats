#!/usr/bin/env bats
# The pipelines in pipelines/ and the EXAMPLES of the overview pages.

load helpers

# Run the EXAMPLES of a man page in $TMP, the sample data beside them.
run_examples() {
	ln -sfn "$DATA" "$TMP/data"
	"$ROOT/tests/man-examples" "$ROOT/man/$1" >"$TMP/examples.sh"
	cd "$TMP"
	run timeout 300 bash -euo pipefail examples.sh
}

@test "unetpipe-workflow: the whole workflow writes every figure and the report" {
	run timeout 300 unetpipe-workflow --size 32x32 --epochs 2 --patience 1 \
		--base-filters 2 --depth 2 --ratio 60:20:20 --pictures 2 \
		"$DATA/stage1_train" "$TMP/run"
	assert_success
	assert_line --partial "unetpipe-workflow: done in"
	local messages=$output
	for f in model.safetensors train.jsonl curves.png diagnosis.json \
		sweep.json objects-sweep.json test.json test-native.json \
		test-per-image.jsonl report.md; do
		[ -s "$TMP/run/$f" ] || fail "missing $f"
	done
	# 24 samples at 60:20:20: 14, 5 and 5 (largest remainder).
	[ "$(pamfile -allimages "$TMP/run/train.pam" | grep -c Image)" -eq 14 ]
	[ "$(pamfile -allimages "$TMP/run/test.pam" | grep -c Image)" -eq 5 ]
	[ "$(jq .images "$TMP/run/test.json")" -eq 5 ]
	[ "$(jq .images "$TMP/run/test-native.json")" -eq 5 ]
	# The test split at native size holds the same ids at their own size.
	run diff <(grep -a '^#id' "$TMP/run/test.pam") <(grep -a '^#id' "$TMP/run/test-native.pam")
	assert_success
	# A degenerate sweep's warning and unet-train's warning of a model that
	# learnt nothing are in the report, and only they.
	local warnings=0 train_warning
	train_warning=$(sed -n 's/^unet-train: warning: //p' <<<"$messages")
	if [ -n "$train_warning" ]; then
		grep -qF "**Warning:** ${train_warning^}." "$TMP/run/report.md"
		warnings=$((warnings + 1))
	fi
	if [ "$(jq .degenerate "$TMP/run/sweep.json")" = true ]; then
		grep -qF "**Warning:** $(jq -r .warning "$TMP/run/sweep.json")." "$TMP/run/report.md"
		warnings=$((warnings + 1))
	fi
	run grep -c 'Warning' "$TMP/run/report.md"
	assert_output "$warnings"
	[ ! -e "$TMP/run/train.err" ]
	# The threshold used by score is the sweep's best.
	[ "$(jq .threshold "$TMP/run/test.json")" = "$(jq .best.threshold "$TMP/run/sweep.json")" ]
	# Two pictures per test image (confusion and objects), named by id;
	# the curves, two confusion pictures and one of objects in the report.
	[ "$(ls "$TMP/run/pictures" | wc -l)" -eq 10 ]
	[ "$(ls "$TMP/run/pictures" | grep -c -- '-objects\.png$')" -eq 5 ]
	[ "$(grep -c '^!\[' "$TMP/run/report.md")" -eq 4 ]
	grep -q '^| 0.5 | ' "$TMP/run/report.md"
	grep -q '^| 32x32 | ' "$TMP/run/report.md"
	grep -q '^| native size | ' "$TMP/run/report.md"
	# The data set keeps its nuclei: the object model, scored on objects
	# against the truth's labels, its objects measured at native size.
	grep -aq '^TUPLTYPE RGB_LABEL$' "$TMP/run/test.pam"
	grep -q 'outputs foreground,distance' "$TMP/run/report.md"
	for f in test-objects.json test-native-objects.json; do
		run jq -r '.instances | "\(.predicted_objects_from) \(.true_objects_from)"' "$TMP/run/$f"
		assert_output "labels labels"
	done
	grep -q '^### Objects' "$TMP/run/report.md"
	run head -1 "$TMP/run/counts.csv"
	assert_output "image,id,objects"
	[ "$(wc -l <"$TMP/run/counts.csv")" -eq 6 ]
	# the objects of counts.csv are the rows of objects.csv and the
	# predicted objects scored at native size
	total=$(awk -F, 'NR > 1 { n += $3 } END { print n + 0 }' "$TMP/run/counts.csv")
	[ "$(($(wc -l <"$TMP/run/objects.csv") - 1))" -eq "$total" ]
	[ "$(jq .instances.predicted_objects "$TMP/run/test-native-objects.json")" -eq "$total" ]
}

@test "unetpipe-workflow: --init, --freeze, --augment, --lr-schedule and --keep reach unet-train" {
	ingest-resize --size 32x32 "$DATA/stage1_train" >"$TMP/s.pam"
	unet-train --quiet --epochs 1 --base-filters 2 --depth 2 \
		--output "$TMP/pre.safetensors" <"$TMP/s.pam"
	run timeout 300 unetpipe-workflow --size 32x32 --epochs 1 --lr 0.0001 \
		--base-filters 2 --depth 2 --ratio 60:20:20 --no-native \
		--init "$TMP/pre.safetensors" --freeze encoder --augment flip,rot90 \
		--lr-schedule cosine --patience 0 --keep last "$DATA/stage1_train" "$TMP/run"
	assert_success
	grep -F "lr 0.0001, --init $TMP/pre.safetensors --freeze encoder --augment flip,rot90 --lr-schedule cosine --keep last." \
		"$TMP/run/report.md"
	"$REFPY" -c '
import json, struct, sys
def load(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    head = json.loads(data[8:8 + n])
    meta = head.pop("__metadata__")
    return {k: data[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]]
            for k, v in head.items()}, meta
pre, _ = load(sys.argv[1])
tuned, meta = load(sys.argv[2])
assert (meta["init"], meta["freeze"], meta["augment"], meta["lr_schedule"], meta["keep"]) == \
    (sys.argv[1], "encoder", "rot90,flip", "cosine", "last"), meta
# the --init model brings its normalisation (maxval), not the default
assert meta["normalize"] == "maxval", meta
for k in pre:
    assert (pre[k] == tuned[k]) == k.startswith(("c1.", "c2.")), k
' "$TMP/pre.safetensors" "$TMP/run/model.safetensors"
}

@test "unetpipe-workflow: the default recipe is patches of 128 at native size on a fixed budget, percentile normalisation, TTA" {
	run timeout 300 unetpipe-workflow --epochs 1 --base-filters 2 --depth 2 \
		--ratio 60:20:20 --pictures 1 "$DATA/stage1_train" "$TMP/run"
	assert_success
	run model_meta "$TMP/run/model.safetensors"
	assert_success
	[ "$(jq -r .patch <<<"$output")" = 128 ]
	[ "$(jq -r .normalize <<<"$output")" = percentile:1:99.8 ]
	# the budget: 60 steps of 8 patches by area, flips, the Dice term, a
	# cosine schedule, the last epoch's model
	run jq -r '"\(.batch) \(.steps_per_epoch) \(.sample_by) \(.augment) \(.loss) \(.lr_schedule) \(.keep)"' <<<"$output"
	assert_output "8 60 area rot90,flip bce+dice cosine last"
	run model_meta "$TMP/run/model.safetensors"
	[ "$(jq -r '.input_width // "none"' <<<"$output")" = none ]
	grep -qF "trained on 128x128 patches" "$TMP/run/report.md"
	grep -qF "The model is the last epoch's (--keep last), epoch 1: val_loss" "$TMP/run/report.md"
	grep -qF 'unet-infer --tta' "$TMP/run/report.md"
	[ ! -e "$TMP/run/test.json" ]
	[ -s "$TMP/run/test-native.json" ]
}

@test "unetpipe-workflow: usage errors exit 2, a missing data set exits 1" {
	run unetpipe-workflow "$DATA/stage1_train"
	assert_failure 2
	assert_line --index 0 "unetpipe-workflow: expected DATASET and OUTDIR (image files take --masks DIR)"
	run unetpipe-workflow --ratio 1:2 "$DATA/stage1_train" "$TMP/x"
	assert_failure 2
	run unetpipe-workflow --bogus "$DATA/stage1_train" "$TMP/x"
	assert_failure 2
	run unetpipe-workflow "$TMP/none" "$TMP/x"
	assert_failure 1
	assert_output "unetpipe-workflow: $TMP/none: not a folder"
	# bad training options are refused before the ingest: no OUTDIR made
	for bad in "--epochs x" "--epochs 0" "--batch 1.5" "--size 128" "--lr fast" \
		"--loss focal" "--outputs distance" "--depth -1"; do
		# shellcheck disable=SC2086
		run unetpipe-workflow $bad "$DATA/stage1_train" "$TMP/x"
		assert_failure 2
		assert_line --index 0 --regexp "^unetpipe-workflow: --[a-z-]+"
		[ ! -e "$TMP/x" ] || fail "$bad: $TMP/x made"
	done
	run unetpipe-workflow --help
	assert_success
	assert_line --index 0 --partial "usage: unetpipe-workflow"
}

@test "unetpipe-workflow: a failing step stops the pipeline with its message" {
	mkdir -p "$TMP/bad/x/images"
	run unetpipe-workflow --size 32x32 "$TMP/bad" "$TMP/run"
	assert_failure 1
	assert_line --partial "ingest-resize: "
	[ ! -e "$TMP/run/model.safetensors" ]
}

@test "unetpipe-apply: one binary mask per image at its own size, named by id" {
	ingest-resize --size 32x32 "$DATA/stage1_train" >"$TMP/s.pam"
	unet-train --quiet --epochs 1 --base-filters 2 --depth 2 \
		--output "$TMP/m.safetensors" <"$TMP/s.pam"
	a=$(ls -d "$DATA"/stage1_train/0a7d*) b=$(ls -d "$DATA"/stage1_train/ad9d*)
	ida=$(basename "$a") idb=$(basename "$b")
	run unetpipe-apply --threshold 0.3 --probabilities "$TMP/m.safetensors" \
		"$TMP/out" "$a/images/$ida.png" "$b/images/$idb.png"
	assert_success
	assert_line "$TMP/out/$ida.png"
	assert_line "$TMP/out/$idb-prob.png"
	run bash -c "pngtopam '$TMP/out/$idb.png' | pamfile"
	assert_output --partial "640 by 512  maxval 255"
	run bash -c "pngtopam '$TMP/out/$idb-prob.png' | pamfile"
	assert_output --partial "640 by 512  maxval 65535"
	# The masks equal the pipeline written out by hand.
	ingest-resize "$b/images/$idb.png" | unet-infer --resize "$TMP/m.safetensors" |
		binarize --threshold 0.3 | pamtopnm >"$TMP/expect.pgm"
	pngtopam "$TMP/out/$idb.png" >"$TMP/got.pgm"
	cmp "$TMP/expect.pgm" "$TMP/got.pgm"
	# Only 0 and 255.
	run bash -c "pngtopam '$TMP/out/$ida.png' | pgmhist -machine | awk '\$2 > 0 {print \$1}'"
	[[ $output =~ ^(0|255)(\n255)?$ ]] || fail "values: $output"
}

@test "unetpipe-apply: --labels and --measure with an object model: label PNGs, objects.csv and counts.csv" {
	ingest-resize --size 32x32 "$DATA/stage1_train" >"$TMP/s.pam"
	unet-train --quiet --epochs 1 --base-filters 2 --depth 2 \
		--outputs foreground,distance --output "$TMP/m.safetensors" <"$TMP/s.pam"
	a=$(ls -d "$DATA"/stage1_train/0a7d*) b=$(ls -d "$DATA"/stage1_train/ad9d*)
	ida=$(basename "$a") idb=$(basename "$b")
	run unetpipe-apply --threshold 0.3 --probabilities --labels --measure \
		"$TMP/m.safetensors" "$TMP/out" "$a/images/$ida.png" "$b/images/$idb.png"
	assert_success
	for f in "$ida.png" "$ida-prob.png" "$ida-prob-distance.png" "$ida-labels.png" \
		"$idb-labels.png" objects.csv counts.csv; do
		assert_line "$TMP/out/$f"
	done
	run ls -A "$TMP/out"
	assert_equal "${#lines[@]}" 10
	run bash -c "pngtopam '$TMP/out/$idb-labels.png' | pamfile"
	assert_output --partial "640 by 512  maxval 65535"
	# The labels equal the pipeline written out by hand, at the same
	# threshold (a watershed: the model has a distance output).
	ingest-resize "$b/images/$idb.png" | unet-infer --resize "$TMP/m.safetensors" |
		label-objects --threshold 0.3 >"$TMP/labels.pam"
	pamchannel -tupletype=GRAYSCALE 0 <"$TMP/labels.pam" | pamtopnm >"$TMP/expect.pgm"
	pngtopam "$TMP/out/$idb-labels.png" >"$TMP/got.pgm"
	cmp "$TMP/expect.pgm" "$TMP/got.pgm"
	# counts.csv: one line per image; objects.csv: one row per object,
	# with the images' intensities
	run cat "$TMP/out/counts.csv"
	assert_line --index 0 "image,id,objects"
	assert_equal "${#lines[@]}" 3
	nb=$(measure-objects "$TMP/labels.pam" | tail -n +2 | wc -l)
	assert_line --index 2 "2,$idb,$nb"
	total=$(awk -F, 'NR > 1 { n += $3 } END { print n + 0 }' "$TMP/out/counts.csv")
	[ "$(($(wc -l <"$TMP/out/objects.csv") - 1))" -eq "$total" ]
	head -1 "$TMP/out/objects.csv" | grep -q ',mean_red,'
	# --object-threshold(-from): the labels at their own threshold, the
	# masks still at --threshold
	ingest-resize "$b/images/$idb.png" | unet-infer --resize "$TMP/m.safetensors" |
		label-objects --threshold 0.6 | pamchannel -tupletype=GRAYSCALE 0 |
		pamtopnm >"$TMP/expect6.pgm"
	if cmp -s "$TMP/expect.pgm" "$TMP/expect6.pgm"; then fail "the labels at 0.6 are those at 0.3"; fi
	printf '{"thresholds": [], "best": {"threshold": 0.6}}\n' >"$TMP/objects-sweep.json"
	for o in "--object-threshold 0.6" "--object-threshold-from $TMP/objects-sweep.json"; do
		rm -rf "$TMP/out6"
		# shellcheck disable=SC2086
		unetpipe-apply --threshold 0.3 $o --labels "$TMP/m.safetensors" "$TMP/out6" \
			"$b/images/$idb.png" >/dev/null
		cmp "$TMP/out/$idb.png" "$TMP/out6/$idb.png"
		pngtopam "$TMP/out6/$idb-labels.png" | cmp - "$TMP/expect6.pgm"
	done
}

@test "unetpipe-apply: usage errors exit 2, a bad model exits 1 with its message" {
	run unetpipe-apply "$TMP/m" "$TMP/out"
	assert_failure 2
	run unetpipe-apply --threshold 2 "$TMP/m" "$TMP/out" "$DATA/stage1_train"
	assert_failure 2
	assert_line --index 0 "unetpipe-apply: --threshold: '2' is not a number in [0, 1]"
	# the objects' threshold: checked before anything is read or made
	while IFS='|' read -r code args message; do
		# shellcheck disable=SC2086
		run unetpipe-apply $args "$TMP/m" "$TMP/out" "$DATA/stage1_train"
		assert_failure "$code"
		assert_line --index 0 "$message"
		[ ! -e "$TMP/out" ] || fail "$args: $TMP/out made"
	done <<CASES
2|--labels --object-threshold 1.5|unetpipe-apply: --object-threshold: '1.5' is not a number in [0, 1]
2|--labels --object-threshold x|unetpipe-apply: --object-threshold: 'x' is not a number in [0, 1]
2|--object-threshold 0.6|unetpipe-apply: --object-threshold needs --labels or --measure
2|--object-threshold-from $TMP/none.json|unetpipe-apply: --object-threshold-from needs --labels or --measure
1|--measure --object-threshold-from $TMP/none.json|label-objects: $TMP/none.json: unable to open $TMP/none.json: No such file or directory
1|--threshold-from $TMP/none.json|label-objects: $TMP/none.json: unable to open $TMP/none.json: No such file or directory
CASES
	echo junk >"$TMP/m.safetensors"
	run unetpipe-apply "$TMP/m.safetensors" "$TMP/out" "$DATA/stage1_train"
	assert_failure 1
	assert_line --partial "unet-infer: $TMP/m.safetensors: "
}

@test "unetpipe-workflow, unetpipe-apply: -h, --help, -V and --version" {
	local want help
	want=$(binarize --version)
	want=${want#binarize }
	[[ $want =~ ^unetpipe\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
	for p in unetpipe-workflow unetpipe-apply; do
		for opt in -V --version; do
			run "$p" "$opt"
			assert_success
			assert_output "$p $want"
		done
		run "$p" --help
		assert_success
		assert_line --index 0 --partial "usage: $p"
		assert_line --regexp '^  -V, --version +show the version and exit$'
		help=$output
		run "$p" -h
		assert_success
		assert_output "$help"
	done
	# Without the filters on PATH: one line, exit 1.
	run env PATH=/usr/bin:/bin "$ROOT/pipelines/unetpipe-apply" --version
	assert_failure 1
	assert_output "unetpipe-apply: cannot ask binarize --version (the unetpipe filters must be on PATH)"
}

@test "unetpipe(7) EXAMPLES run" {
	run_examples unetpipe.7
	assert_success
	[ -s sweep.json ] && [ -s test.json ] && [ -s curves.png ]
	[ -s sweep5.json ] && [ -s tuned.safetensors ] && [ "$(wc -l <gray.txt)" -eq 21 ] && [ -s masks/0a7d30b252359a10fd298b638b90cb9ada3acced4e0c0e5a3692013f432ee4e9.png ]
	[ -s run/report.md ]
	# the native path: test figures, a report, masks at native size
	[ "$(jq .images native-test.json)" -eq 5 ]
	grep -q '^| native size | ' native-run/report.md
	[ "$(ls native-masks | wc -l)" -eq 24 ]
	run bash -c "pngtopam native-masks/ad9d305cbf193d4250743ead466bdaefe910835d7e352c544e22320e8336f5c1.png | pamfile"
	assert_output --partial "640 by 512"
}

@test "unetpipe-workflow(1) and unetpipe-apply(1) EXAMPLES run" {
	# image files and their masks (one nucleus each will do)
	mkdir "$TMP/photos" "$TMP/masks"
	for d in "$DATA"/stage1_train/*/; do
		id=$(basename "$d")
		cp "$d/images/$id.png" "$TMP/photos/"
		cp "$(ls "$d"/masks/*.png | head -1)" "$TMP/masks/$id.png"
	done
	run_examples unetpipe-workflow.1
	assert_success
	[ -s run/report.md ]
	# the files, read as gray; resumed with nothing left to do
	[ "$(grep -ac '^TUPLTYPE GRAYSCALE_MASK$' gray/samples.pam)" -eq 24 ]
	assert_line "unetpipe-workflow: ingest 24 images with the masks of masks at 32x32: done"
	[ -s gray/report.md ]
	[ "$(jq .images native/test-native.json)" -eq "$(pamfile -allimages native/test.pam | grep -c Image)" ]
	rm -rf masks
	run_examples unetpipe-apply.1
	assert_success
	[ "$(ls masks | wc -l)" -eq 4 ]
	[ "$(ls native-masks | wc -l)" -eq 1 ] && [ "$(ls tta-masks | wc -l)" -eq 1 ]
}

# tiny_model PATH: a 3-channel model trained in a fraction of a second.
tiny_model() {
	unet-train --quiet --threads 1 --epochs 1 --base-filters 1 --depth 2 \
		--val-split 0 --output "$1" <"$FIXTURES/train-16.pam"
}

@test "unetpipe-apply: an OUTDIR that is, is inside or holds an input is refused, nothing written" {
	mkdir -p "$TMP/t/imgs" "$TMP/t/other" "$TMP/t/ds"
	cd "$TMP/t"
	tiny_model m.safetensors
	pgmnoise -randomseed=1 24 20 | pnmtopng >imgs/a.png
	pgmnoise -randomseed=2 17 31 | pnmtopng >imgs/b.png
	cp m.safetensors other/m.safetensors
	echo '{"best": {"threshold": 0.5}}' >other/sweep.json
	id=$(basename "$DATA"/stage1_train/0a7d*)
	cp -r "$DATA/stage1_train/$id" ds/
	ln -s imgs link
	cp -a "$TMP/t" "$TMP/keep"
	m=$TMP/t/m.safetensors
	while IFS='|' read -r args message; do
		for p in "" --probabilities; do
			run unetpipe-apply $p $args
			assert_failure 1
			assert_one_error_line unetpipe-apply
			assert_output "unetpipe-apply: $message (choose another output folder)"
			diff -r --no-dereference "$TMP/t" "$TMP/keep" || fail "$args changed a file"
		done
	done <<CASES
$m imgs imgs/a.png imgs/b.png|imgs: holds the input imgs/a.png
$m imgs/sub/.. other/x.png imgs/b.png|imgs/sub/..: holds the input imgs/b.png
$m link/ imgs/a.png|link/: holds the input imgs/a.png
$m imgs link/b.png|imgs: holds the input link/b.png
$m ds ds|ds: is the input folder ds
$m ds/$id/images ds|ds/$id/images: is inside the input folder ds
$m ds/new ds|ds/new: is inside the input folder ds
$m ds ds/$id|ds: holds the input ds/$id
other/m.safetensors other imgs/a.png|other: holds the model other/m.safetensors
--threshold-from other/sweep.json $m other imgs/a.png|other: holds the sweep report other/sweep.json
CASES
}

@test "unetpipe-apply: run again into the same OUTDIR, the masks are replaced; no temporary left" {
	tiny_model "$TMP/m.safetensors"
	mkdir "$TMP/imgs"
	pgmnoise -randomseed=1 24 20 | pnmtopng >"$TMP/imgs/a.png"
	for t in 0 1; do
		run unetpipe-apply --probabilities --threshold $t "$TMP/m.safetensors" \
			"$TMP/out" "$TMP/imgs/a.png"
		assert_success
		assert_output "$TMP/out/a-prob.png"$'\n'"$TMP/out/a.png"
		# threshold 0: every pixel is foreground; 1: none is.
		run bash -c 'pngtopam "$1" | pgmhist -machine | awk "\$2 > 0 {print \$1}"' _ "$TMP/out/a.png"
		assert_output $((255 * (1 - t)))
	done
	run ls -A "$TMP/out"
	assert_output $'a-prob.png\na.png'
	# A failed run leaves no .prob temporary either.
	echo junk >"$TMP/bad.safetensors"
	run unetpipe-apply --probabilities "$TMP/bad.safetensors" "$TMP/out" "$TMP/imgs/a.png"
	assert_failure 1
	run ls -A "$TMP/out"
	assert_output $'a-prob.png\na.png'
}

@test "unetpipe-apply: killed by SIGTERM, its .prob temporary is removed" {
	tiny_model "$TMP/m.safetensors"
	mkdir "$TMP/out"
	mkfifo "$TMP/fifo"
	unetpipe-apply --probabilities "$TMP/m.safetensors" "$TMP/out" - \
		<"$TMP/fifo" >/dev/null 2>&1 3>&- &
	pid=$!
	exec 4>"$TMP/fifo"
	for ((n = 0; n < 2000; n++)); do
		compgen -G "$TMP/out/.prob.*" >/dev/null && break
		sleep 0.005
	done
	((n < 2000)) || fail "no temporary file seen"
	kill -TERM "$pid"
	# bash acts on the signal once its foreground pipeline has ended,
	# and ingest-resize reads until the FIFO's writer closes it: close it
	# before waiting, or a TERM that lands during the pipeline waits
	# forever (seen once under the sanitizers, 2026-12-05).
	exec 4>&-
	wait "$pid" && status=0 || status=$?
	assert_equal "$status" 143
	run ls -A "$TMP/out"
	assert_output ""
}

@test "unetpipe-workflow: an OUTDIR that is, is inside or holds the data set or the --init model is refused, nothing written" {
	mkdir -p "$TMP/t/ds" "$TMP/t/run"
	cd "$TMP/t"
	for id in 0a7d 13c8 16c3 3874; do
		cp -r "$DATA"/stage1_train/$id* ds/
	done
	id=$(basename ds/0a7d*)
	tiny_model run/m.safetensors
	ln -s ds link
	cp -a "$TMP/t" "$TMP/keep"
	while IFS='|' read -r args message; do
		run unetpipe-workflow --size 16x16 --epochs 1 --base-filters 1 --depth 2 \
			--ratio 50:25:25 --no-native $args
		assert_failure 1
		assert_one_error_line unetpipe-workflow
		assert_output "unetpipe-workflow: $message (choose another output folder)"
		diff -r --no-dereference "$TMP/t" "$TMP/keep" || fail "$args changed a file"
	done <<CASES
ds ds|ds: is the data set ds
ds ds/|ds/: is the data set ds
link ds/new/..|ds/new/..: is the data set link
ds link|link: is the data set ds
ds ds/out|ds/out: is inside the data set ds
ds ds/$id/images|ds/$id/images: is inside the data set ds
ds .|.: holds the data set ds
link/$id $TMP/t/ds|$TMP/t/ds: holds the data set link/$id
--init run/m.safetensors ds run|run: holds the --init model run/m.safetensors
--init run/m.safetensors ds run/sub/..|run/sub/..: holds the --init model run/m.safetensors
CASES
}

# model_meta MODEL: the __metadata__ of a safetensors model, as JSON.
model_meta() {
	"$REFPY" -c '
import json, struct, sys
d = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", d[:8])[0]
print(json.dumps(json.loads(d[8:8 + n])["__metadata__"], sort_keys=True))' "$1"
}

# sizes FILE: "id WxH" for each image of a PAM stream.
sizes() {
	"$REFPY" -c '
import sys
d, pos = open(sys.argv[1], "rb").read(), 0
while pos < len(d):
    e = d.index(b"ENDHDR\n", pos) + 7
    h = d[pos:e].decode().split("\n")
    f = dict(l.split(" ", 1) for l in h if " " in l)
    w, ht, n, m = (int(f[k]) for k in ("WIDTH", "HEIGHT", "DEPTH", "MAXVAL"))
    print(f.get("#id", "-"), "%dx%d" % (w, ht))
    pos = e + w * ht * n * (2 if m > 255 else 1)' "$1"
}

@test "issue 15: unetpipe-workflow --patch trains on patches at native size and scores at native size" {
	# the 128x128 figures of an earlier run in OUTDIR: removed, not taken
	# for this run's
	mkdir -p "$TMP/run"
	echo '{"pooled": {"dice": 0.5}}' >"$TMP/run/test.json"
	touch "$TMP/run/test-objects.json" "$TMP/run/test-native.pam"
	run timeout 300 unetpipe-workflow --patch 64 --depth 3 --base-filters 2 \
		--epochs 2 --patience 1 --batch 4 --steps-per-epoch 2 \
		--normalize percentile --no-tta --ratio 60:20:20 --pictures 2 \
		"$DATA/stage1_train" "$TMP/run"
	assert_success
	assert_line "unetpipe-workflow: ingest $DATA/stage1_train at native size"
	refute_line --partial "unetpipe-workflow: score the test split at 128x128"
	run grep -c 'unet-infer --tta' "$TMP/run/report.md"
	assert_output 0
	# the samples are the images as they are: not one resized
	ingest-resize --quiet "$DATA/stage1_train" | cmp - "$TMP/run/samples.pam"
	# a patch model, its normalisation recorded, no training size
	run model_meta "$TMP/run/model.safetensors"
	run jq -r '"\(.patch) \(.normalize) \(.input_width) \(.input_height) \(.sample_by)"' <<<"$output"
	assert_output "64 percentile:1:99.8 null null area"
	# the test scored once, at native size: test-native*.json are
	# unet-infer and score run by hand on the native test images, at the
	# threshold of the sweep on the native validation images
	[ ! -e "$TMP/run/test.json" ] && [ ! -e "$TMP/run/test-objects.json" ] &&
		[ ! -e "$TMP/run/test-native.pam" ]
	unet-infer --quiet "$TMP/run/model.safetensors" <"$TMP/run/val.pam" >"$TMP/val-prob.pam"
	threshold-sweep --truth "$TMP/run/val.pam" <"$TMP/val-prob.pam" | cmp - "$TMP/run/sweep.json"
	[ ! -e "$TMP/run/val-prob.pam" ]
	# the objects' threshold: label-objects and score on the validation
	# maps at 0.1 to 0.9, the best DSB score, of equals the nearest 0.5
	for t in 0.1 0.15 0.2 0.25 0.3 0.35 0.4 0.45 0.5 0.55 0.6 0.65 0.7 0.75 0.8 0.85 0.9; do
		label-objects --threshold "$t" <"$TMP/val-prob.pam" |
			score --truth "$TMP/run/val.pam" >"$TMP/o.json"
		echo "$t $(jq .instances.dsb2018 "$TMP/o.json") $(jq .instances.object_f1 "$TMP/o.json")"
	done >"$TMP/by-hand"
	jq -r '.thresholds[] | "\(.threshold) \(.dsb2018) \(.object_f1)"' \
		"$TMP/run/objects-sweep.json" | diff - "$TMP/by-hand"
	best=$(awk '{ d = $1 - 0.5; if (d < 0) d = -d }
		NR == 1 || $2 > s || ($2 == s && d < bd) { s = $2; bt = $1; bd = d }
		END { print bt }' "$TMP/by-hand")
	[ "$(jq .best.threshold "$TMP/run/objects-sweep.json")" = "$best" ]
	grep -qF "Best threshold for objects: **$best**." "$TMP/run/report.md"
	unet-infer --quiet "$TMP/run/model.safetensors" <"$TMP/run/test.pam" >"$TMP/prob.pam"
	score --truth "$TMP/run/test.pam" --threshold-from "$TMP/run/sweep.json" \
		<"$TMP/prob.pam" | cmp - "$TMP/run/test-native.json"
	label-objects --threshold "$best" <"$TMP/prob.pam" |
		score --truth "$TMP/run/test.pam" | cmp - "$TMP/run/test-native-objects.json"
	[ "$(jq .images "$TMP/run/test-native.json")" -eq 5 ]
	[ "$(wc -l <"$TMP/run/counts.csv")" -eq 6 ]
	[ "$(ls "$TMP/run/pictures" | wc -l)" -eq 10 ]
	# the report says which path: native size, patches, one row a table
	grep -qF "at native size, trained on 64x64 patches drawn by area: 14 training" "$TMP/run/report.md"
	grep -qF -- "--steps-per-epoch 2" "$TMP/run/report.md"
	grep -qF -- "--normalize percentile" "$TMP/run/report.md"
	[ "$(grep -c '^| native size | ' "$TMP/run/report.md")" -eq 2 ]
	run grep -c '^| [0-9]*x[0-9]* | ' "$TMP/run/report.md"
	assert_output 0
}

@test "issue 15: unetpipe-workflow --patch --scale F --tta: trained at scale F, scored there and at native size, TTA passed on" {
	run timeout 300 unetpipe-workflow --patch 32 --scale 0.5 --tta --depth 3 \
		--base-filters 2 --epochs 1 --batch 4 --steps-per-epoch 2 \
		--ratio 60:20:20 --pictures 1 "$DATA/stage1_train" "$TMP/run"
	assert_success
	assert_line "unetpipe-workflow: ingest $DATA/stage1_train at scale 0.5"
	ingest-resize --quiet --scale 0.5 "$DATA/stage1_train" | cmp - "$TMP/run/samples.pam"
	# the 1272x603 scan at half size, aspect kept
	sizes "$TMP/run/samples.pam" | grep -q '^cb4df20a83b2f38b394c67f1d9d4aef29f9794d5345da3576318374ec3a11490 636x302$'
	run model_meta "$TMP/run/model.safetensors"
	run jq -r '"\(.patch) \(.input_width)"' <<<"$output"
	assert_output "32 null"
	# --tta reached unet-infer: the figures are those of unet-infer --tta
	# run by hand, and differ from those without
	unet-infer --quiet --tta "$TMP/run/model.safetensors" <"$TMP/run/val.pam" |
		threshold-sweep --truth "$TMP/run/val.pam" | cmp - "$TMP/run/sweep.json"
	unet-infer --quiet --tta "$TMP/run/model.safetensors" <"$TMP/run/test.pam" |
		score --truth "$TMP/run/test.pam" --threshold-from "$TMP/run/sweep.json" |
		cmp - "$TMP/run/test.json"
	unet-infer --quiet --tta --original-size "$TMP/run/model.safetensors" <"$TMP/run/test.pam" |
		score --truth "$TMP/run/test-native.pam" --threshold-from "$TMP/run/sweep.json" |
		cmp - "$TMP/run/test-native.json"
	unet-infer --quiet "$TMP/run/model.safetensors" <"$TMP/run/test.pam" >"$TMP/plain.pam"
	unet-infer --quiet --tta "$TMP/run/model.safetensors" <"$TMP/run/test.pam" >"$TMP/tta.pam"
	run cmp -s "$TMP/plain.pam" "$TMP/tta.pam"
	assert_failure
	# test-native.pam holds the same ids at native size
	run diff <(grep -a '^#id' "$TMP/run/test.pam") <(grep -a '^#id' "$TMP/run/test-native.pam")
	assert_success
	grep -qF "at scale 0.5 (each image keeping its aspect), trained on 32x32 patches drawn by area:" "$TMP/run/report.md"
	[ "$(grep -c '^| scale 0.5 | ' "$TMP/run/report.md")" -eq 2 ]
	[ "$(grep -c '^| native size | ' "$TMP/run/report.md")" -eq 2 ]
	grep -qF 'unet-infer --tta' "$TMP/run/report.md"
}

@test "issue 15: unetpipe-apply with a patch model: masks at each image's own size, nothing resized; --resize WxH; --tta" {
	ingest-resize "$DATA/stage1_train" >"$TMP/s.pam"
	unet-train --quiet --patch 32 --steps-per-epoch 2 --batch 4 --epochs 1 \
		--base-filters 2 --depth 3 --output "$TMP/m.safetensors" <"$TMP/s.pam"
	a=$(ls -d "$DATA"/stage1_train/ad9d*) b=$(ls -d "$DATA"/stage1_train/cb4d*)
	ida=$(basename "$a") idb=$(basename "$b")
	run unetpipe-apply --threshold 0.3 --probabilities "$TMP/m.safetensors" "$TMP/out" \
		"$a/images/$ida.png" "$b/images/$idb.png"
	assert_success
	run bash -c "pngtopam '$TMP/out/$idb.png' | pamfile"
	assert_output --partial "1272 by 603  maxval 255"
	# the masks are unet-infer's at the image's own size, no --resize
	for id in $ida $idb; do
		d=$DATA/stage1_train/$id
		ingest-resize "$d/images/$id.png" | unet-infer "$TMP/m.safetensors" |
			binarize --threshold 0.3 | pamtopnm >"$TMP/expect.pgm"
		pngtopam "$TMP/out/$id.png" | cmp - "$TMP/expect.pgm"
	done
	# --resize WxH: the old behaviour, through that size, other
	# probabilities
	run unetpipe-apply --threshold 0.3 --probabilities --resize 64x48 "$TMP/m.safetensors" \
		"$TMP/small" "$b/images/$idb.png"
	assert_success
	ingest-resize "$b/images/$idb.png" | unet-infer --resize=64x48 "$TMP/m.safetensors" |
		binarize --threshold 0.3 | pamtopnm >"$TMP/expect.pgm"
	pngtopam "$TMP/small/$idb.png" | cmp - "$TMP/expect.pgm"
	run bash -c "pngtopam '$TMP/small/$idb.png' | pamfile"
	assert_output --partial "1272 by 603  maxval 255"
	run cmp -s "$TMP/small/$idb-prob.png" "$TMP/out/$idb-prob.png"
	assert_failure
	# --tta: unet-infer --tta's probabilities, not the plain ones
	run unetpipe-apply --tta --probabilities "$TMP/m.safetensors" "$TMP/tta" "$b/images/$idb.png"
	assert_success
	run unetpipe-apply --probabilities "$TMP/m.safetensors" "$TMP/plain" "$b/images/$idb.png"
	assert_success
	ingest-resize "$b/images/$idb.png" | unet-infer --tta "$TMP/m.safetensors" |
		pamtopnm >"$TMP/expect.pgm"
	pngtopam "$TMP/tta/$idb-prob.png" | cmp - "$TMP/expect.pgm"
	run cmp -s "$TMP/tta/$idb-prob.png" "$TMP/plain/$idb-prob.png"
	assert_failure
}

@test "issue 15: bad values of --patch, --scale, --normalize, --steps-per-epoch, --resize: usage errors, nothing made" {
	for bad in "--patch 30:--patch: 30 is not a positive multiple of 2^(depth - 1) = 16" \
		"--patch 0:--patch: 0 is not a positive multiple of 2^(depth - 1) = 16" \
		"--patch 12 --depth 4:--patch: 12 is not a positive multiple of 2^(depth - 1) = 8" \
		"--patch x:--patch: 'x' is not a count" \
		"--size 64x64 --patch 64:--size and --patch are two recipes: give one" \
		"--patch 64 --size 64x64:--size and --patch are two recipes: give one" \
		"--size 64x64 --scale 0.5:--scale is for --patch (--size resizes to one size)" \
		"--patch 64 --scale 0:--scale: 0 is out of range (0, 32768]" \
		"--patch 64 --scale -1:--scale: -1 is out of range (0, 32768]" \
		"--patch 64 --scale nan:--scale: 'nan' is not a number" \
		"--patch 64 --scale 1e9:--scale: 1e+09 is out of range (0, 32768]" \
		"--normalize percent:--normalize: 'percent' is not maxval, percentile or percentile:LOW:HIGH" \
		"--steps-per-epoch 0:--epochs, --batch, --base-filters, --depth and --steps-per-epoch must be at least 1" \
		"--steps-per-epoch 1.5:--steps-per-epoch: '1.5' is not a count" \
		"--sample-by pixels:--sample-by: image or area, not 'pixels'" \
		"--size 64x64 --sample-by area:--sample-by is for --patch (--size trains on whole images of one size)"; do
		# shellcheck disable=SC2086
		run unetpipe-workflow ${bad%%:--*} "$DATA/stage1_train" "$TMP/x"
		assert_failure 2
		assert_line --index 0 "unetpipe-workflow: ${bad#*:}"
		assert_line --index 1 "Try 'unetpipe-workflow --help' for more information."
		[ ! -e "$TMP/x" ] || fail "$bad: $TMP/x made"
	done
	for bad in 128 0x5 64x 32769x2 99999x1 axb; do
		run unetpipe-apply --resize "$bad" "$TMP/m" "$TMP/x" "$DATA/stage1_train"
		assert_failure 2
		assert_line --index 0 "unetpipe-apply: --resize: '$bad' is not WxH, each side 1 to 32768"
		[ ! -e "$TMP/x" ] || fail "--resize $bad: $TMP/x made"
	done
	run unetpipe-apply --resize
	assert_failure 2
	assert_line --index 0 "unetpipe-apply: --resize needs a value"
}
