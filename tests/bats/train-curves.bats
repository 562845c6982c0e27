load helpers

# count_colour FILE R G B: number of pixels of that colour in a PAM image.
count_colour() {
	pamtopnm "$1" | ppmhist -noheader |
		awk -v r="$2" -v g="$3" -v b="$4" '
			$1 == r && $2 == g && $3 == b { n = $5 }
			END { print n + 0 }'
}

# pixel FILE X Y: "R G B" of one pixel.
pixel() {
	pamcut -left "$2" -top "$3" -width 1 -height 1 "$1" | pamtopnm -plain |
		tail -n 1 | xargs
}

@test "train-curves: over-fit log, picture and diagnosis" {
	run bash -c "train-curves $FIXTURES/curves-overfit.jsonl 2>$TMP/err >$TMP/c.pam"
	assert_success
	assert_equal "$(cat "$TMP/err")" "train-curves: best epoch 12 (val_loss 0.081); over-fitting from epoch 13: val_loss above its minimum for 8 epochs (0.081 -> 0.1306) while train_loss fell (0.1112 -> 0.0514)"
	run head -n 7 "$TMP/c.pam"
	assert_output "P7
WIDTH 800
HEIGHT 500
DEPTH 3
MAXVAL 255
TUPLTYPE RGB
ENDHDR"
	assert_equal "$(pixel "$TMP/c.pam" 0 0)" "255 255 255"
	assert_equal "$(pixel "$TMP/c.pam" 799 499)" "255 255 255"
	# train_loss blue, val_loss vermillion, Dice bluish green, IoU purple
	(($(count_colour "$TMP/c.pam" 0 114 178) > 500))
	(($(count_colour "$TMP/c.pam" 213 94 0) > 500))
	(($(count_colour "$TMP/c.pam" 0 158 115) > 500))
	(($(count_colour "$TMP/c.pam" 204 121 167) > 500))
	# the dashed best-epoch line: epoch 12 of 0..20 at x = 80 + 12/20 * 695
	pamcut -left 497 -width 1 "$TMP/c.pam" >"$TMP/col.pam"
	(($(count_colour "$TMP/col.pam" 0 0 0) > 100))
	pamcut -left 490 -width 1 "$TMP/c.pam" >"$TMP/col.pam"
	(($(count_colour "$TMP/col.pam" 0 0 0) < 20))
	# the output converts to PNG
	pamtopng "$TMP/c.pam" >"$TMP/c.png"
	[ -s "$TMP/c.png" ]
}

@test "train-curves: good fit and under-fit diagnoses" {
	run train-curves --quiet "$FIXTURES/curves-goodfit.jsonl"
	assert_success
	run bash -c "train-curves $FIXTURES/curves-goodfit.jsonl 2>&1 >/dev/null"
	assert_output "train-curves: best epoch 15 (val_loss 0.1312); good fit: train_loss has levelled off and val_loss has not kept rising"
	run bash -c "train-curves $FIXTURES/curves-underfit.jsonl 2>&1 >/dev/null"
	assert_output "train-curves: best epoch 8 (val_loss 0.1654); under-fitting: train_loss still falling steeply at the last epoch (0.2575 -> 0.1413, -45.1% over the last 3 epochs): train longer"
	# a 50% threshold makes the same log a good fit
	run bash -c "train-curves --underfit-drop 50 $FIXTURES/curves-underfit.jsonl 2>&1 >/dev/null"
	assert_output --partial "good fit"
	# with a margin above the rise, the over-fit log is no longer over-fit
	run bash -c "train-curves --overfit-margin 70 $FIXTURES/curves-overfit.jsonl 2>&1 >/dev/null"
	refute_output --partial "over-fitting"
	run bash -c "train-curves --overfit-epochs 9 $FIXTURES/curves-overfit.jsonl 2>&1 >/dev/null"
	refute_output --partial "over-fitting"
}

@test "train-curves: a validation loss of 5 images swinging by 20 % around a flat train loss is a good fit" {
	# the demo's log (make demo, 2026-12-03): best 0.09195 at epoch 110,
	# the last 0.1108 (20.5 % above), train_loss flat at 0.066
	run bash -c "train-curves $FIXTURES/curves-noisy.jsonl 2>&1 >/dev/null"
	assert_output --partial "best epoch 110 (val_loss 0.09195); good fit: "
	run bash -c "train-curves --rise-margin 20 $FIXTURES/curves-noisy.jsonl 2>&1 >/dev/null"
	assert_output --partial "; not converged: the last val_loss is 20.5% above its minimum"
}

@test "train-curves: never a good fit when val_dice stays near 0 or val_loss ended well above its minimum" {
	# The tour of issue 12: --patience 5 stopped at epoch 8, val_loss
	# rose from 0.46 to 0.61 while train_loss stayed flat, val_dice 0.004.
	run bash -c "train-curves $FIXTURES/curves-stalled.jsonl 2>&1 >/dev/null"
	assert_output "train-curves: best epoch 3 (val_loss 0.4602); not converged: val_dice never reached 0.05 (at most 0.0412, epoch 1): the model does not separate the foreground from the background; train longer (more epochs, more patience) or check the data"
	run bash -c "train-curves --dice-floor 0 $FIXTURES/curves-stalled.jsonl 2>&1 >/dev/null"
	assert_output "train-curves: best epoch 3 (val_loss 0.4602); not converged: the last val_loss is 32.7% above its minimum (0.4602 -> 0.6107) while train_loss went 0.4021 -> 0.4129: validation got worse, not better; train longer with more patience or a lower learning rate"
	# a rise margin above the 32.7 % rise: the old verdict
	run bash -c "train-curves --dice-floor 0 --rise-margin 33 $FIXTURES/curves-stalled.jsonl 2>&1 >/dev/null"
	assert_output --partial "; good fit: "
	# val_loss levelled off as in a good fit, but val_dice at most 0.0036
	train-curves --diagnosis "$TMP/d.json" "$FIXTURES/curves-nodice.jsonl" >/dev/null
	run jq -c '[.verdict, .best_epoch, .over_fitting_from]' "$TMP/d.json"
	assert_output '["not converged",10,null]'
	run jq -r .message "$TMP/d.json"
	assert_output --partial "val_dice never reached 0.05 (at most 0.0036, epoch 8)"
	run bash -c "train-curves --dice-floor 0.0036 $FIXTURES/curves-nodice.jsonl 2>&1 >/dev/null"
	assert_output --partial "; good fit: "
	# the over-fit log with a margin above its rise: not converged
	run bash -c "train-curves --overfit-margin 70 $FIXTURES/curves-overfit.jsonl 2>&1 >/dev/null"
	assert_output --partial "not converged: the last val_loss is 61.2% above its minimum (0.081 -> 0.1306)"
	for bad in "--dice-floor 1.5" "--dice-floor -0.1" "--dice-floor x" \
		"--rise-margin -1" "--rise-margin nan"; do
		run train-curves $bad "$FIXTURES/curves-nodice.jsonl"
		assert_failure 2
		assert_line --index 0 --regexp "^train-curves: .*(dice-floor|rise-margin)"
	done
}

@test "train-curves: a model that hardly learned is under-fitting" {
	printf '{"epoch": %d, "train_loss": %s, "val_loss": %s}\n' \
		1 0.70 0.70 2 0.69 0.695 3 0.66 0.69 4 0.65 0.688 5 0.645 0.687 >"$TMP/h.jsonl"
	run bash -c "train-curves $TMP/h.jsonl 2>&1 >/dev/null"
	assert_output "train-curves: best epoch 5 (val_loss 0.687); under-fitting: train_loss fell only 7.9% since the first epoch (0.7 -> 0.645): the model has hardly learned"
	run bash -c "train-curves --underfit-total 0 $TMP/h.jsonl 2>&1 >/dev/null"
	assert_output --partial "good fit"
	printf '{"epoch": %d, "train_loss": %s}\n' 1 0.5 2 0.52 3 0.55 >"$TMP/r.jsonl"
	run bash -c "train-curves $TMP/r.jsonl 2>&1 >/dev/null"
	assert_output "train-curves: under-fitting: train_loss rose 10.0% since the first epoch (0.5 -> 0.55): the model has hardly learned"
}

@test "train-curves: reads the log of a real unet-train run" {
	command -v unet-train || skip "unet-train not built"
	timeout 60 unet-train -q -o "$TMP/m.safetensors" --epochs 3 --base-filters 4 \
		--depth 2 --threads 1 --val-split 0.25 --log "$TMP/v.jsonl" \
		"$FIXTURES/train-16.pam"
	train-curves --diagnosis "$TMP/d.json" "$TMP/v.jsonl" >"$TMP/v.pam"
	run jq -c '[.epochs, .first_epoch, (.best_epoch | type)]' "$TMP/d.json"
	assert_output '[3,1,"number"]'
	(($(count_colour "$TMP/v.pam" 213 94 0) > 100))
	(($(count_colour "$TMP/v.pam" 0 158 115) > 100))
	timeout 60 unet-train -q -o "$TMP/n.safetensors" --epochs 2 --base-filters 4 \
		--depth 2 --threads 1 --val-split 0 --log "$TMP/n.jsonl" \
		"$FIXTURES/train-16.pam"
	train-curves --diagnosis "$TMP/d.json" "$TMP/n.jsonl" >"$TMP/n.pam"
	run jq -c '[.epochs, .best_epoch]' "$TMP/d.json"
	assert_output '[2,null]'
	assert_equal "$(count_colour "$TMP/n.pam" 213 94 0)" 0
}

@test "train-curves: --diagnosis writes JSON and nothing to stderr" {
	run bash -c "train-curves --diagnosis $TMP/d.json <$FIXTURES/curves-overfit.jsonl 2>&1 >/dev/null"
	assert_success
	assert_output ""
	run jq -c '[.epochs, .first_epoch, .last_epoch, .best_epoch, .best_val_loss, .verdict, .over_fitting_from]' "$TMP/d.json"
	assert_output '[20,1,20,12,0.081,"over-fitting",13]'
	run jq -r .message "$TMP/d.json"
	assert_output --partial "over-fitting from epoch 13"
}

@test "train-curves: log without validation" {
	run bash -c "train-curves $FIXTURES/curves-noval.jsonl 2>$TMP/err >$TMP/c.pam"
	assert_success
	assert_equal "$(cat "$TMP/err")" "train-curves: train_loss has levelled off; without validation data over-fitting cannot be judged"
	(($(count_colour "$TMP/c.pam" 0 114 178) > 500))
	assert_equal "$(count_colour "$TMP/c.pam" 213 94 0)" 0
	train-curves -q --diagnosis "$TMP/d.json" "$FIXTURES/curves-noval.jsonl" >/dev/null
	run jq -c '[.best_epoch, .best_val_loss, .verdict, .over_fitting_from]' "$TMP/d.json"
	assert_output '[null,null,"undetermined",null]'
	# validation keys left out rather than null: the same
	sed 's/"val_[a-z]*":null,//g' "$FIXTURES/curves-noval.jsonl" >"$TMP/absent.jsonl"
	run grep -c val_ "$TMP/absent.jsonl"
	assert_output 0
	train-curves -q --title t "$TMP/absent.jsonl" >"$TMP/a.pam"
	train-curves -q --title t "$FIXTURES/curves-noval.jsonl" >"$TMP/b.pam"
	cmp "$TMP/a.pam" "$TMP/b.pam"
}

@test "train-curves: --width, --height, --no-dice, --title" {
	train-curves -q --width 640 --height 420 "$FIXTURES/curves-overfit.jsonl" >"$TMP/c.pam"
	run pamfile "$TMP/c.pam"
	assert_output --partial "640 by 420"
	(($(count_colour "$TMP/c.pam" 0 158 115) > 100))
	train-curves -q --no-dice --title "my run" "$FIXTURES/curves-overfit.jsonl" >"$TMP/n.pam"
	assert_equal "$(count_colour "$TMP/n.pam" 0 158 115)" 0
	assert_equal "$(count_colour "$TMP/n.pam" 204 121 167)" 0
	(($(count_colour "$TMP/n.pam" 213 94 0) > 500))
	# one epoch is drawn as a point and judged too few
	echo '{"epoch": 1, "train_loss": 0.5, "val_loss": 0.4}' >"$TMP/one.jsonl"
	run bash -c "train-curves $TMP/one.jsonl 2>&1 >$TMP/o.pam"
	assert_output "train-curves: best epoch 1 (val_loss 0.4); only one epoch: too few to judge"
	(($(count_colour "$TMP/o.pam" 213 94 0) > 10))
}

@test "train-curves: bad lines name the file and line" {
	head -n 2 "$FIXTURES/curves-goodfit.jsonl" >"$TMP/bad.jsonl"
	echo '{"epoch": 3, "train_loss": 0.1,' >>"$TMP/bad.jsonl"
	run train-curves "$TMP/bad.jsonl"
	assert_failure 1
	assert_one_error_line train-curves
	assert_output --regexp "^train-curves: $TMP/bad.jsonl:3: "

	printf '{"epoch": 1, "train_loss": 0.1, "train_loss": 0.2}\n' >"$TMP/dup.jsonl"
	run train-curves "$TMP/dup.jsonl"
	assert_failure 1
	assert_one_error_line train-curves
	assert_output --partial "dup.jsonl:1: duplicate object key"

	printf '{"epoch": 1, "train_loss": NaN}\n' >"$TMP/nan.jsonl"
	run train-curves "$TMP/nan.jsonl"
	assert_failure 1
	assert_one_error_line train-curves
	assert_output --partial "nan.jsonl:1: "

	printf '{"epoch": 1, "train_loss": null}\n' | { run train-curves; assert_failure 1; assert_output "train-curves: stdin:1: train_loss is null (not a number)"; }
	printf '{"epoch": 1, "train_loss": "0.3"}\n' | { run train-curves; assert_output "train-curves: stdin:1: train_loss is not a number"; }
	printf '{"epoch": 1}\n' | { run train-curves; assert_output "train-curves: stdin:1: train_loss missing"; }
	printf '{"train_loss": 0.2}\n' | { run train-curves; assert_output "train-curves: stdin:1: epoch missing"; }
	printf '{"epoch": 1.5, "train_loss": 0.2}\n' | { run train-curves; assert_output "train-curves: stdin:1: epoch is not an integer"; }
	printf '[1, 2]\n' | { run train-curves; assert_output "train-curves: stdin:1: not a JSON object"; }
	printf '{"epoch": 2, "train_loss": 0.2}\n{"epoch": 2, "train_loss": 0.1}\n' |
		{ run train-curves; assert_output "train-curves: stdin:2: epoch 2 does not follow epoch 2"; }
	printf '{"epoch": 1, "train_loss": 0.2, "val_loss": 0.3}\n{"epoch": 2, "train_loss": 0.1}\n' |
		{ run train-curves; assert_failure 1; assert_output "train-curves: stdin:2: val_loss is missing or null, but a number on line 1"; }
	printf '{"epoch": 1, "train_loss": 0.2, "val_dice": null}\n{"epoch": 2, "train_loss": 0.1, "val_dice": 0.5}\n' |
		{ run train-curves; assert_failure 1; assert_output "train-curves: stdin:2: val_dice is a number, but missing or null on line 1"; }
	run train-curves "$TMP/nonexistent.jsonl"
	assert_failure 1
	assert_output "train-curves: $TMP/nonexistent.jsonl: No such file or directory"
}

@test "train-curves: truncated log stops at the cut line, writes nothing" {
	head -c -40 "$FIXTURES/curves-overfit.jsonl" >"$TMP/cut.jsonl"
	run bash -c "train-curves $TMP/cut.jsonl 2>$TMP/err >$TMP/out"
	assert_failure 1
	assert_regex "$(cat "$TMP/err")" "^train-curves: $TMP/cut.jsonl:20: "
	[ ! -s "$TMP/out" ]
}

@test "train-curves: empty log" {
	run train-curves </dev/null
	assert_failure 1
	assert_output "train-curves: stdin: no epochs"
	printf '\n  \n' >"$TMP/blank.jsonl"
	run train-curves "$TMP/blank.jsonl"
	assert_failure 1
	assert_output "train-curves: $TMP/blank.jsonl: no epochs"
}

@test "train-curves: usage errors exit 2" {
	run train-curves --width abc "$FIXTURES/curves-goodfit.jsonl"
	assert_failure 2
	run train-curves --width 10 "$FIXTURES/curves-goodfit.jsonl"
	assert_failure 2
	run train-curves --bogus
	assert_failure 2
	assert_line --index 0 "train-curves: unknown option '--bogus'"
	run train-curves --overfit-epochs 0
	assert_failure 2
	run train-curves a.jsonl b.jsonl
	assert_failure 2
	run train-curves --diagnosis
	assert_failure 2
	run train-curves --help
	assert_success
	assert_line --index 0 "usage: train-curves [options] [LOG]"
	run train-curves --version
	assert_output "train-curves unetpipe 0.1.0"
}

@test "train-curves: write errors" {
	run bash -c "train-curves -q $FIXTURES/curves-goodfit.jsonl >/dev/full"
	assert_failure 1
	assert_one_error_line train-curves
	run train-curves --diagnosis /dev/full "$FIXTURES/curves-goodfit.jsonl"
	assert_failure 1
	assert_one_error_line train-curves
	assert_output "train-curves: /dev/full: not a regular file (an output replaces its path by a new file)"
}

@test "train-curves: --diagnosis is never the log, and stdout never the log" {
	cp "$FIXTURES/curves-goodfit.jsonl" "$TMP/log.jsonl"
	run train-curves --diagnosis "$TMP/log.jsonl" "$TMP/log.jsonl"
	assert_failure 1
	assert_output "train-curves: $TMP/log.jsonl: is also an input (an output never replaces an input)"
	cmp "$TMP/log.jsonl" "$FIXTURES/curves-goodfit.jsonl"
	run bash -c 'train-curves --diagnosis "$1" <"$1"' _ "$TMP/log.jsonl"
	assert_failure 1
	assert_one_error_line train-curves
	cmp "$TMP/log.jsonl" "$FIXTURES/curves-goodfit.jsonl"
	run bash -c 'train-curves -q "$1" >>"$1"' _ "$TMP/log.jsonl"
	assert_failure 1
	assert_output "train-curves: $TMP/log.jsonl: is also the standard output"
	cmp "$TMP/log.jsonl" "$FIXTURES/curves-goodfit.jsonl"
	run ls -A "$TMP"
	assert_output "log.jsonl"
}

@test "train-curves: a failed run leaves an existing diagnosis as it was, no temporary" {
	echo "old diagnosis" >"$TMP/d.json"
	head -n 3 "$FIXTURES/curves-goodfit.jsonl" >"$TMP/bad.jsonl"
	echo '{"epoch": 1, "train_loss": 0.1}' >>"$TMP/bad.jsonl"
	run train-curves --diagnosis "$TMP/d.json" "$TMP/bad.jsonl"
	assert_failure 1
	assert_one_error_line train-curves
	assert_equal "$(cat "$TMP/d.json")" "old diagnosis"
	run bash -c 'train-curves --diagnosis "$1" "$2" >/dev/full' _ "$TMP/d.json" \
		"$FIXTURES/curves-goodfit.jsonl"
	assert_failure 1
	assert_output --regexp "^train-curves: write error"
	assert_equal "$(cat "$TMP/d.json")" "old diagnosis"
	run ls -A "$TMP"
	assert_output $'bad.jsonl\nd.json'
	train-curves --diagnosis "$TMP/d.json" "$FIXTURES/curves-goodfit.jsonl" >/dev/null
	run jq -r .verdict "$TMP/d.json"
	assert_output "good fit"
}

@test "train-curves: a line too long for the memory is an error, not the end of the log" {
	[[ -z ${UNETPIPE_SANITIZED:-} ]] || skip "ulimit -v does not work with ASan"
	# 5 epochs, the third line 64 MiB long (valid JSON, padded with
	# spaces), read under a 50 MB address-space limit.
	{
		head -n 2 "$FIXTURES/curves-goodfit.jsonl"
		printf '{"epoch": 3, "train_loss": 0.2, "val_loss": 0.3, "val_dice": 0.6, "val_iou": 0.5'
		head -c 67108864 /dev/zero | tr '\0' ' '
		printf '}\n'
		sed -n '4,5p' "$FIXTURES/curves-goodfit.jsonl"
	} >"$TMP/huge.jsonl"
	run bash -c 'ulimit -v 50000; train-curves --diagnosis "$1" "$2" >"$3"' _ \
		"$TMP/d.json" "$TMP/huge.jsonl" "$TMP/c.pam"
	assert_failure 1
	assert_one_error_line train-curves
	assert_output --regexp "^train-curves: out of memory"
	[[ ! -e $TMP/d.json && ! -s $TMP/c.pam ]]
}

@test "train-curves: a NUL byte or a read error is an error, not the end of the log" {
	{ head -n 2 "$FIXTURES/curves-goodfit.jsonl"; printf '{"epoch": 3,\0 "train_loss": 0.2}\n'; } >"$TMP/nul.jsonl"
	run train-curves "$TMP/nul.jsonl"
	assert_failure 1
	assert_output "train-curves: $TMP/nul.jsonl: line 3: holds a NUL byte"
	run train-curves "$TMP"
	assert_failure 1
	assert_output "train-curves: $TMP: read error: Is a directory"
}

@test "train-curves: the man page example works" {
	cp "$FIXTURES/curves-overfit.jsonl" "$TMP/train.jsonl"
	cd "$TMP"
	train-curves train.jsonl | pamtopng >curves.png
	[ -s curves.png ]
	train-curves --diagnosis fit.json --width 1024 --height 640 \
		train.jsonl >curves.pam
	run jq -r .verdict fit.json
	assert_output "over-fitting"
	run pamfile curves.pam
	assert_output --partial "1024 by 640"
}
