#!/usr/bin/env bats
# Every man page's EXAMPLES, run as written in a folder that holds what
# they name (the sample data, a small model, splits, probability maps, a
# sweep, a log). To keep the suite fast, ingest-resize and unet-train are
# wrapped so that every example works at 32x32 for one epoch; every
# option the examples give is still parsed and used.

load helpers

ID=0a7d30b252359a10fd298b638b90cb9ada3acced4e0c0e5a3692013f432ee4e9

setup_file() {
	ctx="$BATS_FILE_TMPDIR/ctx"
	mkdir -p "$ctx/masks" "$ctx/photos"
	cd "$ctx"
	ln -s "$DATA" data
	ingest-resize --quiet --size 32x32 data/stage1_train >all.pam
	sample-split --seed 1 --ratio 60:20:20 all.pam train.pam val.pam test.pam
	grep -a '^#id ' train.pam | head -5 | cut -c5- >fluorescence.txt
	unet-train --quiet --epochs 2 --base-filters 2 --depth 2 --val val.pam \
		--log train.jsonl --output nuclei.safetensors <train.pam
	unet-infer --quiet nuclei.safetensors <test.pam >probs.pam
	unet-infer --quiet nuclei.safetensors <val.pam |
		threshold-sweep --truth val.pam >sweep.json
	# the same split of the union masks (the same seed on a stream of the
	# same length), as binary truth masks
	ingest-resize --quiet --semantic --size 32x32 data/stage1_train >semantic.pam
	sample-split --seed 1 --ratio 60:20:20 semantic.pam s1.pam s2.pam s3.pam
	pamchannel -tupletype=GRAYSCALE 3 <s3.pam >truth-masks.pam
	rm semantic.pam s1.pam s2.pam s3.pam
	pamchannel -tupletype=RGB 0 1 2 <test.pam >images.pam
	binarize probs.pam >masks.pam
	cp "data/stage1_train/$ID/images/$ID.png" photo.png
	cp photo.png scan.png
	mask=$(ls "data/stage1_train/$ID/masks/"*.png | head -1)
	cp photo.png photos/photo.png
	cp "$mask" masks/photo.png
}

# run_examples PAGE: the page's examples in a fresh copy of the folder.
run_examples() {
	cp -a "$BATS_FILE_TMPDIR/ctx" "$TMP/ctx"
	cd "$TMP/ctx"
	{
		# small and fast: 32x32, unless the example resamples by a factor
		echo 'ingest-resize() { case " $* " in *" --scale "*) command ingest-resize "$@" ;; *) command ingest-resize "$@" --size 32x32 ;; esac; }'
		echo 'unet-train() { command unet-train "$@" --epochs 1; }'
		"$ROOT/tests/man-examples" "$ROOT/man/$1" |
			sed "s#stage1_train/ID/images/ID.png#stage1_train/$ID/images/$ID.png#"
	} >examples.sh
	run timeout 300 bash -euo pipefail examples.sh
	assert_success
}

@test "augment(1) EXAMPLES run" { run_examples augment.1; [ -s more.pam ]; }
@test "binarize(1) EXAMPLES run" { run_examples binarize.1; [ -s masks.pam ]; }
@test "confusion-render(1) EXAMPLES run" { run_examples confusion-render.1; [ -s confusion-1.png ] && [ -s overlay.pam ]; }
@test "ingest-resize(1) EXAMPLES run" { run_examples ingest-resize.1; [ -s img.png ] && [ -s samples.pam ]; }
@test "label-objects(1) EXAMPLES run" { run_examples label-objects.1; [ -s labels.pam ] && [ -s objects.pam ] && [ -s labels.png ]; }
@test "label-render(1) EXAMPLES run" { run_examples label-render.1; [ -s labels.png ] && [ -s tinted.pam ] && compgen -G "objects/*.png"; }
@test "measure-objects(1) EXAMPLES run" { run_examples measure-objects.1; [ -s objects.csv ] && [ -s counts.csv ]; }
@test "sample-split(1) EXAMPLES run" { run_examples sample-split.1; [ -s f5.pam ] && [ -s pre.safetensors ]; }
@test "save-images(1) EXAMPLES run" { run_examples save-images.1; [ -d confusion ]; }
@test "score(1) EXAMPLES run" { run_examples score.1; [ -s test.json ] && [ -s per.jsonl ]; }
@test "threshold-sweep(1) EXAMPLES run" { run_examples threshold-sweep.1; [ -s test.json ]; }
@test "train-curves(1) EXAMPLES run" { run_examples train-curves.1; [ -s curves.png ] && [ -s fit.json ]; }
@test "unet-infer(1) EXAMPLES run" { run_examples unet-infer.1; [ -s scan-prob.pam ]; }
@test "unet-train(1) EXAMPLES run" { run_examples unet-train.1; [ -s tuned.safetensors ]; }
