#!/usr/bin/env bats
# Issue 12, the pipelines: --channels, image files with --masks, every
# option checked before the first step, --resume, progress on a terminal,
# matched objects in the report (-h, -V, --help, --version: pipelines.bats).

load helpers

# images_and_masks DIR N: the first N sample images as DIR/img/ID.png and
# their truth, the union of the nuclei, as DIR/masks/ID.png (0 or 255).
images_and_masks() {
	local d id
	mkdir -p "$1/img" "$1/masks" "$1/one"
	for d in $(ls -d "$DATA"/stage1_train/*/ | head -n "$2"); do
		id=$(basename "$d")
		cp "$d/images/$id.png" "$1/img/"
		rm -f "$1"/one/*
		ln -s "$d" "$1/one/$id"
		ingest-resize --quiet --semantic "$1/one" |
			pamchannel -tupletype=GRAYSCALE 3 | pnmtopng >"$1/masks/$id.png"
	done
	rm -r "$1/one"
}

# in_channels MODEL: the in_channels of a model's metadata.
in_channels() {
	local n
	n=$(od -An -t u8 -N 8 -- "$1" | tr -d ' ')
	tail -c +9 -- "$1" | head -c "$n" | jq -r .__metadata__.in_channels
}

@test "issue 12: unetpipe-workflow --channels 1 --masks DIR IMAGE... OUTDIR: gray samples from image files, matched objects reported" {
	images_and_masks "$TMP/f" 8
	# a file name with a space and parentheses, as microscopes write them
	first=$(ls "$TMP/f/img" | head -n 1)
	mv "$TMP/f/img/$first" "$TMP/f/img/well A1 (z3).png"
	mv "$TMP/f/masks/$first" "$TMP/f/masks/well A1 (z3).png"
	run timeout 300 unetpipe-workflow --size 32x32 --channels 1 --epochs 2 \
		--base-filters 2 --depth 2 --ratio 50:25:25 --pictures 8 \
		--masks "$TMP/f/masks" "$TMP/f"/img/*.png "$TMP/run"
	assert_success
	assert_line "unetpipe-workflow: ingest 8 images with the masks of $TMP/f/masks at 32x32"
	# the samples are ingest-resize's of the files, gray with their mask
	ingest-resize --quiet --size 32x32 --channels 1 --masks "$TMP/f/masks" \
		"$TMP/f"/img/*.png | cmp - "$TMP/run/samples.pam"
	ingest-resize --quiet --channels 1 --masks "$TMP/f/masks" "$TMP/f"/img/*.png |
		sample-split --seed 1 --ratio 50:25:25 - "$TMP/a.pam" "$TMP/b.pam" "$TMP/native-test.pam"
	cmp "$TMP/native-test.pam" "$TMP/run/test-native.pam"
	[ "$(grep -ac '^TUPLTYPE GRAYSCALE_MASK$' "$TMP/run/samples.pam")" -eq 8 ]
	[ "$(in_channels "$TMP/run/model.safetensors")" = 1 ]
	# the ids are the files' names
	run diff <(grep -a '^#id ' "$TMP/run/samples.pam" | cut -c5-) \
		<(ls "$TMP/f/img" | sed 's/\.png$//')
	assert_success
	grep -qF "Data set \`8 images with the masks of $TMP/f/masks\` at 32x32: 4 training, 2 validation, 2 test samples" "$TMP/run/report.md"
	# the resize recipe keeps the best epoch
	grep -q "^Best epoch [0-9]*: val_loss" "$TMP/run/report.md"
	# found / true / matched objects, as score counted them
	for at in 32x32:test "native size:test-native"; do
		row=$(jq -r '.instances | "\(.predicted_objects) / \(.true_objects) / \(.matched_objects)"' \
			"$TMP/run/${at#*:}-objects.json")
		grep -qF "| ${at%%:*} " "$TMP/run/report.md"
		grep "^| ${at%%:*} .* | $row | " "$TMP/run/report.md" || fail "no '$row' at ${at%%:*}"
	done
	grep -qF "objects found / true / matched" "$TMP/run/report.md"
	# every picture the report shows is there, named by its id as it is
	grep -o '](<pictures/[^>]*>)' "$TMP/run/report.md" | sed 's/^](<//; s/>)$//' >"$TMP/links"
	[ "$(wc -l <"$TMP/links")" -ge 3 ]
	while read -r f; do [ -s "$TMP/run/$f" ] || fail "no $f"; done <"$TMP/links"
	! grep -q '](pictures/' "$TMP/run/report.md"
}

@test "issue 12: unetpipe-apply reads the images with the model's channels: a grayscale model on RGB files; --channels overrides" {
	images_and_masks "$TMP/f" 2
	ingest-resize --quiet --channels 1 --size 32x32 "$DATA/stage1_train" >"$TMP/g.pam"
	unet-train --quiet --epochs 1 --base-filters 16 --depth 3 --val-split 0 \
		--output "$TMP/gray.safetensors" <"$TMP/g.pam"
	[ "$(in_channels "$TMP/gray.safetensors")" = 1 ]
	# larger than a pipe's buffer: the header is read without a SIGPIPE
	(($(stat -c %s "$TMP/gray.safetensors") > 200000))
	run unetpipe-apply --probabilities "$TMP/gray.safetensors" "$TMP/out" "$TMP/f"/img/*.png
	assert_success
	for f in "$TMP/f"/img/*.png; do
		id=$(basename "$f" .png)
		assert_line "$TMP/out/$id.png"
		ingest-resize --channels 1 "$f" | unet-infer --resize "$TMP/gray.safetensors" |
			pamtopnm >"$TMP/expect.pgm"
		pngtopam "$TMP/out/$id-prob.png" | cmp - "$TMP/expect.pgm"
	done
	# --channels 3: RGB images, which this model does not take
	run unetpipe-apply --channels 3 "$TMP/gray.safetensors" "$TMP/out3" "$TMP/f"/img/*.png
	assert_failure 1
	assert_output "unet-infer: stdin: image 1: 3 channels, model expects 1"
	run unetpipe-apply --channels 2 "$TMP/gray.safetensors" "$TMP/out4" "$TMP/f"/img/*.png
	assert_failure 2
	assert_line --index 0 "unetpipe-apply: --channels: 1 or 3, not '2'"
	[ ! -e "$TMP/out4" ]
}

@test "issue 12: unetpipe-workflow checks every option before its first step: one line, nothing made" {
	images_and_masks "$TMP/f" 2
	ingest-resize --quiet --size 32x32 "$DATA/stage1_train" >"$TMP/s.pam"
	while IFS='|' read -r code args message; do
		start=$SECONDS
		# shellcheck disable=SC2086
		run unetpipe-workflow $args "$TMP/x"
		assert_failure "$code"
		assert_line --index 0 "unetpipe-workflow: $message"
		if ((code == 2)); then
			assert_line --index 1 "Try 'unetpipe-workflow --help' for more information."
			assert_equal "${#lines[@]}" 2
		else
			assert_one_error_line unetpipe-workflow
		fi
		((SECONDS - start < 10)) || fail "$args: took $((SECONDS - start)) s"
		[ ! -e "$TMP/x" ] || fail "$args: $TMP/x made"
	done <<CASES
2|--epochs x $DATA/stage1_train|--epochs: 'x' is not a count
2|--threads 0 $DATA/stage1_train|--threads: 0 is out of range [1, 64]
2|--threads two $DATA/stage1_train|--threads: 'two' is not an integer
2|--augment flip,spin $DATA/stage1_train|--augment: 'spin' is not one of flip, rot90, crop, color, elastic, all, none
2|--freeze u2 $DATA/stage1_train|--freeze: no layer 'u2' in a network of depth 5
2|--depth 3 --freeze encoder,c6 $DATA/stage1_train|--freeze: no layer 'c6' in a network of depth 3
2|--channels 2 $DATA/stage1_train|--channels: 1 or 3, not '2'
2|--pictures -1 $DATA/stage1_train|--pictures: '-1' is not a count
2|--min-delta 1 $DATA/stage1_train|unknown option --min-delta
2|$TMP/f/img/a.png $TMP/f/img/b.png|expected DATASET and OUTDIR (image files take --masks DIR)
1|$(ls "$TMP"/f/img/*.png | head -1)|$(ls "$TMP"/f/img/*.png | head -1): not a folder (image files take --masks DIR)
1|--init $TMP/none.safetensors $DATA/stage1_train|$TMP/none.safetensors: No such file or directory
1|--init $TMP/s.pam $DATA/stage1_train|$TMP/s.pam: not a safetensors file
1|--masks $TMP/f/none $TMP/f/img/a.png|$TMP/f/none: not a folder
1|--masks $TMP/f/masks $TMP/f/img/none.png|$TMP/f/img/none.png: not a readable file
CASES
}

@test "issue 12: unetpipe-workflow --masks: an OUTDIR that is, is inside or holds the masks folder or holds an image is refused" {
	images_and_masks "$TMP/t" 2
	cd "$TMP/t"
	img=$(ls img | head -1)
	cp -a "$TMP/t" "$TMP/keep"
	while IFS='|' read -r args message; do
		# shellcheck disable=SC2086
		run unetpipe-workflow --size 16x16 --epochs 1 --masks $args
		assert_failure 1
		assert_output "unetpipe-workflow: $message (choose another output folder)"
		diff -r --no-dereference "$TMP/t" "$TMP/keep" || fail "$args changed a file"
	done <<CASES
masks img/$img masks|masks: is the masks folder masks
masks img/$img masks/run|masks/run: is inside the masks folder masks
masks img/$img .|.: holds the masks folder masks
masks img/$img img|img: holds the image img/$img
$TMP/t/masks $TMP/t/img/$img $TMP/t/img/..|$TMP/t/img/..: holds the masks folder $TMP/t/masks
CASES
}

# workflow_until_epoch OUTDIR ARGS...: start unetpipe-workflow in its own
# process group, and once unet-train has finished an epoch, send the group
# SIGTERM (as ^C sends SIGINT to a terminal's group); sets $status.
workflow_until_epoch() {
	local out=$1 pid n=0
	shift
	setsid unetpipe-workflow "$@" "$out" 2>"$TMP/err" &
	pid=$!
	while ! grep -q '^unet-train: epoch 1/' "$TMP/err" && ((n++ < 3000)); do
		sleep 0.01
	done
	kill -TERM -- -"$pid"
	status=0
	wait "$pid" || status=$?
}

@test "issue 12: unetpipe-workflow --resume: killed during training, resumed, the model of an uninterrupted run" {
	args=(--size 32x32 --epochs 150 --patience 0 --base-filters 4 --depth 2 --threads 2
		--ratio 60:20:20 --no-native --pictures 1 "$DATA/stage1_train")
	workflow_until_epoch "$TMP/r" "${args[@]}"
	assert_equal "$status" 143
	[ -s "$TMP/r/samples.pam" ] && [ -s "$TMP/r/model.safetensors.ckpt" ]
	[ ! -e "$TMP/r/report.md" ] || fail "the run was not interrupted"
	done_epochs=$(wc -l <"$TMP/r/train.jsonl")
	((done_epochs < 150))
	cp -p "$TMP/r/samples.pam" "$TMP/samples.pam"
	cp -p "$TMP/r/train.pam" "$TMP/train.pam"
	# other options: refused in one line, nothing touched
	run unetpipe-workflow --resume --lr 0.01 "${args[@]}" "$TMP/r"
	assert_failure 1
	assert_output "unetpipe-workflow: --resume: lr differs from the interrupted run's ($TMP/r/options: lr 0.001)"
	run unetpipe-workflow --resume --channels 1 "${args[@]}" "$TMP/r"
	assert_failure 1
	assert_output "unetpipe-workflow: --resume: channels differs from the interrupted run's ($TMP/r/options: channels 3)"
	run unetpipe-workflow --resume "${args[@]}" "$TMP/none"
	assert_failure 1
	assert_output "unetpipe-workflow: $TMP/none: no run to resume (no $TMP/none/options)"
	# the same options: the ingest and the split are kept, training goes on
	run unetpipe-workflow --resume "${args[@]}" "$TMP/r"
	assert_success
	assert_line "unetpipe-workflow: ingest $DATA/stage1_train at 32x32: done"
	assert_line "unetpipe-workflow: train: resume from $TMP/r/model.safetensors.ckpt"
	assert_line --regexp "^unet-train: resuming after epoch [0-9]+ from $TMP/r/model.safetensors.ckpt$"
	cmp "$TMP/r/samples.pam" "$TMP/samples.pam"
	[ ! "$TMP/r/samples.pam" -nt "$TMP/samples.pam" ]
	[ ! "$TMP/r/train.pam" -nt "$TMP/train.pam" ]
	[ -s "$TMP/r/report.md" ]
	run compgen -G "$TMP/r/*.part"
	assert_failure
	# the model, the log's figures and the report's test figures are
	# those of a run never interrupted
	run unetpipe-workflow "${args[@]}" "$TMP/u"
	assert_success
	refute_line --partial "resume"
	cmp "$TMP/u/model.safetensors" "$TMP/r/model.safetensors"
	cmp "$TMP/u/sweep.json" "$TMP/r/sweep.json"
	cmp "$TMP/u/test.json" "$TMP/r/test.json"
	diff <(jq -c 'del(.seconds, .images_per_second)' "$TMP/u/train.jsonl") \
		<(jq -c 'del(.seconds, .images_per_second)' "$TMP/r/train.jsonl")
	# a finished run resumed: nothing to train, the same model
	run unetpipe-workflow --resume "${args[@]}" "$TMP/u"
	assert_success
	cmp "$TMP/u/model.safetensors" "$TMP/r/model.safetensors"
	# a fresh run (no --resume) into the same OUTDIR redoes every step
	run unetpipe-workflow "${args[@]/#150/2}" "$TMP/u"
	assert_success
	refute_line --regexp ": done$"
	[ "$(wc -l <"$TMP/u/train.jsonl")" -eq 2 ]
}

@test "issue 12: on a terminal unet-train draws its progress in the workflow; in unetpipe-apply only unet-infer draws" {
	command -v script >/dev/null || skip "no script(1)"
	# script(1) gives the pipeline a terminal and records it
	SHELL=/bin/bash script --quiet --return --echo never --command \
		"unetpipe-workflow --size 32x32 --epochs 2 --base-filters 2 --depth 2 --ratio 60:20:20 --no-native --pictures 1 '$DATA/stage1_train' '$TMP/run'" \
		"$TMP/tty" </dev/null >/dev/null
	# unet-train's progress line, redrawn in place: "\repoch 1/2 step ..."
	grep -aq $'\repoch 1/2 step 1/1 loss' "$TMP/tty"
	# its messages still reach the report: no warning lost
	[ -s "$TMP/run/report.md" ]
	[ ! -e "$TMP/run/train.err" ]
	grep -aq $'unet-train: done; last good model' "$TMP/tty"
	# unetpipe-apply: unet-infer's line only, ingest-resize is quiet
	SHELL=/bin/bash script --quiet --return --echo never --command \
		"unetpipe-apply '$TMP/run/model.safetensors' '$TMP/out' '$DATA'/stage1_train/0a7d*/images/*.png" \
		"$TMP/tty2" </dev/null >/dev/null
	grep -aq $'\runet-infer: 1 images' "$TMP/tty2"
	run grep -ac 'ingest-resize' "$TMP/tty2"
	assert_output 0
}

@test "issue 12: the training warning of a run on a terminal is in the report" {
	command -v script >/dev/null || skip "no script(1)"
	# one epoch at a learning rate of 0.1: the model of the first epoch
	# predicts every pixel one way
	SHELL=/bin/bash script --quiet --return --echo never --command \
		"unetpipe-workflow --size 16x16 --epochs 1 --lr 0.1 --base-filters 1 --depth 2 --ratio 60:20:20 --no-native --pictures 1 '$DATA/stage1_train' '$TMP/run'" \
		"$TMP/tty" </dev/null >/dev/null
	warning=$(tr -d '\r' <"$TMP/tty" | sed -n 's/.*\x1b\[K//; s/^unet-train: warning: //p')
	[ -n "$warning" ] || skip "this model learnt something"
	grep -qF "**Warning:** ${warning^}." "$TMP/run/report.md"
}

@test "issue 12: on a terminal, ^C during training stops the workflow with 130, and --resume continues" {
	command -v script >/dev/null || skip "no script(1)"
	opts="--size 32x32 --epochs 300 --patience 0 --base-filters 4 --depth 2 --threads 2 --no-native --ratio 60:20:20 --pictures 1 '$DATA/stage1_train' '$TMP/r'"
	# ^C: SIGINT to the terminal's foreground process group, the
	# workflow's (set -m gives it a group of its own), once an epoch is done;
	# SIGINT at its default disposition, as a terminal's shell leaves it (a
	# suite started in the background inherits it ignored)
	SHELL=/bin/bash script --quiet --return --echo never --command "set -m
		env --default-signal=INT unetpipe-workflow $opts & pid=\$!
		while [ ! -s '$TMP/r/model.safetensors.ckpt' ]; do sleep 0.01; done
		kill -INT -- -\$pid
		wait \$pid; echo \"status \$?\" >'$TMP/status'" "$TMP/tty" </dev/null >/dev/null
	run cat "$TMP/status"
	assert_output "status 130"
	# stopped there: no step after training ran
	[ -s "$TMP/r/model.safetensors.ckpt" ]
	[ ! -e "$TMP/r/curves.png" ] && [ ! -e "$TMP/r/report.md" ]
	(($(wc -l <"$TMP/r/train.jsonl") < 300))
	run bash -c "unetpipe-workflow --resume $opts"
	assert_success
	assert_line "unetpipe-workflow: train: resume from $TMP/r/model.safetensors.ckpt"
	[ "$(wc -l <"$TMP/r/train.jsonl")" -eq 300 ]
	[ -s "$TMP/r/report.md" ]
}

@test "issue 12: unetpipe-workflow --init with a model larger than a pipe's buffer keeps its outputs" {
	ingest-resize --quiet --size 16x16 "$DATA/stage1_train" >"$TMP/s.pam"
	unet-train --quiet --epochs 1 --base-filters 16 --depth 3 --val-split 0 \
		--outputs foreground,distance --output "$TMP/pre.safetensors" <"$TMP/s.pam"
	(($(stat -c %s "$TMP/pre.safetensors") > 200000))
	run timeout 300 unetpipe-workflow --size 16x16 --epochs 1 --base-filters 16 --depth 3 \
		--ratio 60:20:20 --no-native --pictures 1 --no-tta --init "$TMP/pre.safetensors" \
		"$DATA/stage1_train" "$TMP/run"
	assert_success
	grep -q 'outputs foreground,distance' "$TMP/run/report.md"
}
