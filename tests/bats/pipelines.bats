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
	for f in model.safetensors train.jsonl curves.png diagnosis.json \
		sweep.json test.json test-native.json test-per-image.jsonl report.md; do
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
	# The threshold used by score is the sweep's best.
	[ "$(jq .threshold "$TMP/run/test.json")" = "$(jq .best.threshold "$TMP/run/sweep.json")" ]
	# One picture per test image, named by id, and two in the report.
	[ "$(ls "$TMP/run/pictures" | wc -l)" -eq 5 ]
	[ "$(grep -c '^!\[' "$TMP/run/report.md")" -eq 3 ]
	grep -q '^| 0.5 | ' "$TMP/run/report.md"
	grep -q '^| 32x32 | ' "$TMP/run/report.md"
	grep -q '^| native size | ' "$TMP/run/report.md"
}

@test "unetpipe-workflow: --init, --freeze and --augment reach unet-train" {
	ingest-resize --size 32x32 "$DATA/stage1_train" >"$TMP/s.pam"
	unet-train --quiet --epochs 1 --base-filters 2 --depth 2 \
		--output "$TMP/pre.safetensors" <"$TMP/s.pam"
	run timeout 300 unetpipe-workflow --size 32x32 --epochs 1 --lr 0.0001 \
		--base-filters 2 --depth 2 --ratio 60:20:20 --no-native \
		--init "$TMP/pre.safetensors" --freeze encoder --augment flip,rot90 \
		"$DATA/stage1_train" "$TMP/run"
	assert_success
	grep -F "lr 0.0001, --init $TMP/pre.safetensors --freeze encoder --augment flip,rot90." \
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
assert (meta["init"], meta["freeze"], meta["augment"]) == \
    (sys.argv[1], "encoder", "rot90,flip"), meta
for k in pre:
    assert (pre[k] == tuned[k]) == k.startswith(("c1.", "c2.")), k
' "$TMP/pre.safetensors" "$TMP/run/model.safetensors"
}

@test "unetpipe-workflow: usage errors exit 2, a missing data set exits 1" {
	run unetpipe-workflow "$DATA/stage1_train"
	assert_failure 2
	assert_line --index 0 "unetpipe-workflow: expected DATASET and OUTDIR"
	run unetpipe-workflow --ratio 1:2 "$DATA/stage1_train" "$TMP/x"
	assert_failure 2
	run unetpipe-workflow --bogus "$DATA/stage1_train" "$TMP/x"
	assert_failure 2
	run unetpipe-workflow "$TMP/none" "$TMP/x"
	assert_failure 1
	assert_output "unetpipe-workflow: $TMP/none: not a folder"
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

@test "unetpipe-apply: usage errors exit 2, a bad model exits 1 with its message" {
	run unetpipe-apply "$TMP/m" "$TMP/out"
	assert_failure 2
	run unetpipe-apply --threshold 2 "$TMP/m" "$TMP/out" "$DATA/stage1_train"
	assert_failure 2
	echo junk >"$TMP/m.safetensors"
	run unetpipe-apply "$TMP/m.safetensors" "$TMP/out" "$DATA/stage1_train"
	assert_failure 1
	assert_line --partial "unet-infer: $TMP/m.safetensors: "
}

@test "unetpipe(7) EXAMPLES run" {
	run_examples unetpipe.7
	assert_success
	[ -s sweep.json ] && [ -s test.json ] && [ -s curves.png ]
	[ -s sweep5.json ] && [ -s tuned.safetensors ] && [ "$(wc -l <gray.txt)" -eq 21 ] && [ -s masks/0a7d30b252359a10fd298b638b90cb9ada3acced4e0c0e5a3692013f432ee4e9.png ]
	[ -s run/report.md ]
}

@test "unetpipe-workflow(1) and unetpipe-apply(1) EXAMPLES run" {
	run_examples unetpipe-workflow.1
	assert_success
	[ -s run/report.md ]
	rm -rf masks
	run_examples unetpipe-apply.1
	assert_success
	[ "$(ls masks | wc -l)" -eq 4 ]
}
