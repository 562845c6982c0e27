#!/usr/bin/env bats
# threshold-sweep: figures at a range of thresholds, and the best F1.

load helpers
source "$FIXTURES/score-pam.bash"

# The hand-made pair: image a (4x1) p = 0, 0.2, 0.50001, 1 against the
# truth 0 1 1 0; image b (2x1) p = 1, 0 against 1 0.
#   t = 0, 0.1:     tp 3 fp 1 fn 0 tn 2  F1 6/7
#   t = 0.2 .. 0.5: tp 2 fp 1 fn 1 tn 2  F1 2/3  (p = 0.2 is not > 0.2)
#   t = 0.6 .. 0.9: tp 1 fp 1 fn 2 tn 2  F1 2/5
#   t = 1:          tp 0 fp 0 fn 3 tn 3  F1 0
# (make_pair, tool and json are in tests/fixtures/score-pam.bash)

@test "pooled counts and figures at the 11 default thresholds" {
	make_pair
	run threshold-sweep --truth "$TMP/truth.pam" <"$TMP/pred.pam"
	assert_success
	json '.images == 2 and .pixels == 6 and .average == "pooled"'
	json '[.thresholds[].threshold] == [0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1]'
	json '[.thresholds[] | [.tp,.fp,.fn,.tn]] == [[3,1,0,2],[3,1,0,2],
		[2,1,1,2],[2,1,1,2],[2,1,1,2],[2,1,1,2],[1,1,2,2],[1,1,2,2],
		[1,1,2,2],[1,1,2,2],[0,0,3,3]]'
	json '.thresholds[0] | (.f1 - 6/7 | fabs) < 1e-12 and .iou == 0.75
		and .precision == 0.75 and .recall == 1
		and (.accuracy - 5/6 | fabs) < 1e-12'
	json '.thresholds[5] | (.f1 - 2/3 | fabs) < 1e-12 and .iou == 0.5'
	json '.thresholds[10] | .f1 == 0 and .iou == 0 and .precision == 1
		and .recall == 0 and .accuracy == 0.5'
}

@test "best: highest F1, a tie goes to the threshold closest to 0.5" {
	make_pair
	run threshold-sweep --truth "$TMP/truth.pam" <"$TMP/pred.pam"
	assert_success
	json '.best == .thresholds[1] and .best.threshold == 0.1'
	# Only 0 and 1 in the maps: every threshold below 1 ties.
	pam 2 1 65535 GRAYSCALE 65535 0 >"$TMP/p.pam"
	pam 2 1 1 GRAYSCALE 1 0 >"$TMP/t.pam"
	run threshold-sweep --truth "$TMP/t.pam" --from 0.1 --to 0.7 --step 0.3 "$TMP/p.pam"
	assert_success
	json '[.thresholds[].threshold] == [0.1,0.4,0.7] and .best.threshold == 0.4'
	# Equally close to 0.5: the lower wins.
	run threshold-sweep --truth "$TMP/t.pam" --from 0.4 --to 0.6 --step 0.2 "$TMP/p.pam"
	assert_success
	json '.best.threshold == 0.4 and .best.f1 == 1'
}

@test "--per-image-mean averages the per-image figures" {
	make_pair
	run threshold-sweep --per-image-mean --truth "$TMP/truth.pam" <"$TMP/pred.pam"
	assert_success
	# F1 of a: 0.8, 0.5, 0 (then 0); of b: 1 below t = 1, then 0.
	json '.average == "per-image-mean"'
	json '[.thresholds[] | .f1] == [0.9,0.9,0.75,0.75,0.75,0.75,0.5,0.5,0.5,0.5,0]'
	json '.thresholds[0] | (.iou - (2/3 + 1) / 2 | fabs) < 1e-12
		and .tp == 3 and .tn == 2'
	json '.best.threshold == 0.1 and .best.f1 == 0.9'
}

# sweep ARGS: threshold-sweep ARGS, its report in $TMP/r.json and $output,
# its stderr in $TMP/err; any exit but 0 fails the test.
sweep() {
	threshold-sweep "$@" >"$TMP/r.json" 2>"$TMP/err"
	output=$(cat "$TMP/r.json")
}

@test "degenerate: no warning and \"degenerate\": false when the best beats calling every pixel foreground" {
	make_pair
	# calling every pixel foreground: tp 3 fp 3, F1 2/3; the best 6/7
	sweep --truth "$TMP/truth.pam" "$TMP/pred.pam"
	json '.degenerate == false and .warning == null and
		(.all_foreground_f1 - 2/3 | fabs) < 1e-12'
	[ ! -s "$TMP/err" ]
	# per image: 2/3 in a (tp 2 fp 2) and in b (tp 1 fp 1)
	sweep --per-image-mean --truth "$TMP/truth.pam" "$TMP/pred.pam"
	json '.degenerate == false and (.all_foreground_f1 - 2/3 | fabs) < 1e-12'
	[ ! -s "$TMP/err" ]
}

@test "degenerate: a best threshold that calls every pixel foreground warns, exit 0" {
	# issue 12: a model that has learnt nothing, p = 0.3 everywhere;
	# t = 0 .. 0.3 call all 4 pixels foreground (F1 2/5), t >= 0.4 none
	pam 4 1 65535 GRAYSCALE 19661 19661 19661 19661 >"$TMP/p.pam"
	pam 4 1 1 GRAYSCALE 1 0 0 0 >"$TMP/t.pam"
	sweep --truth "$TMP/t.pam" "$TMP/p.pam"
	json '.best.threshold == 0.3 and .best.fn == 0 and .best.tn == 0'
	json '.degenerate == true and .all_foreground_f1 == 0.4'
	run cat "$TMP/err"
	assert_output "threshold-sweep: warning: the best threshold 0.3 calls every pixel foreground (F1 0.4000): the model has not learnt to separate the foreground from the background (train longer, or with more patience)"
	jq -e --arg w "$output" '"threshold-sweep: warning: " + .warning == $w' \
		"$TMP/r.json"
	# every key of a report without the warning is still there
	make_pair
	threshold-sweep --truth "$TMP/truth.pam" "$TMP/pred.pam" >"$TMP/ok.json"
	jq -e --slurpfile r "$TMP/r.json" '(keys - ($r[0] | keys)) == [] and
		($r[0] | keys) == keys' "$TMP/ok.json"
}

@test "degenerate: a best threshold that calls every pixel background warns" {
	pam 4 1 65535 GRAYSCALE 0 0 0 0 >"$TMP/p.pam"
	pam 4 1 1 GRAYSCALE 1 0 0 0 >"$TMP/t.pam"
	sweep --truth "$TMP/t.pam" "$TMP/p.pam"
	json '.best.threshold == 0.5 and .best.tp == 0 and .best.fp == 0 and
		.best.f1 == 0 and .degenerate == true'
	run cat "$TMP/err"
	assert_output --regexp "^threshold-sweep: warning: the best threshold 0.5 calls every pixel background \(F1 0.0000\): the model has not learnt"
	assert_equal "${#lines[@]}" 1
}

@test "degenerate: a best F1 no better than calling every pixel foreground warns" {
	make_pair
	# only t = 0.6 .. 1: the best F1 2/5 < 2/3 + 0.01
	sweep --from 0.6 --truth "$TMP/truth.pam" "$TMP/pred.pam"
	json '.best.threshold == 0.6 and .degenerate == true'
	run cat "$TMP/err"
	assert_output "threshold-sweep: warning: the best F1 0.4000 (threshold 0.6) is no better than the 0.6667 of calling every pixel foreground: the model has not learnt to separate the foreground from the background (train longer, or with more patience)"
	# per image the same: a 0 at t >= 0.6... the mean F1 1/2
	sweep --per-image-mean --from 0.6 --truth "$TMP/truth.pam" "$TMP/pred.pam"
	json '.best.f1 == 0.5 and .degenerate == true'
	run cat "$TMP/err"
	assert_output --partial "the best F1 0.5000 (threshold 0.6) is no better than the 0.6667"
}

@test "degenerate: the margin is 0.01 of F1 over calling every pixel foreground" {
	# 10x10: 50 foreground pixels at p = 0.9, 50 background ones of
	# which k at p = 0.9 and the others at p = 0; every pixel
	# foreground: F1 100/150. t = 0 .. 0.9: tp 50, fp k.
	local k
	for k in 49 47; do
		{
			printf '%s\n' P7 'WIDTH 10' 'HEIGHT 10' 'DEPTH 1' \
				'MAXVAL 65535' 'TUPLTYPE GRAYSCALE' ENDHDR
			for ((i = 0; i < 100; i++)); do
				if ((i < 50 + k)); then printf '\xe6\x66'; else printf '\x00\x00'; fi
			done
		} >"$TMP/p.pam"
		{
			printf '%s\n' P7 'WIDTH 10' 'HEIGHT 10' 'DEPTH 1' \
				'MAXVAL 1' 'TUPLTYPE GRAYSCALE' ENDHDR
			for ((i = 0; i < 100; i++)); do
				if ((i < 50)); then printf '\x01'; else printf '\x00'; fi
			done
		} >"$TMP/t.pam"
		sweep --truth "$TMP/t.pam" "$TMP/p.pam"
		json ".best.threshold == 0.5 and .best.fp == $k and
			(.all_foreground_f1 - 100/150 | fabs) < 1e-12"
		if ((k == 49)); then
			# F1 100/149 = 0.6711 < 0.6667 + 0.01
			json '.degenerate == true'
			run cat "$TMP/err"
			assert_output --partial "warning: the best F1 0.6711 (threshold 0.5) is no better than the 0.6667 of calling every pixel foreground"
		else
			# F1 100/147 = 0.6803
			json '.degenerate == false and .warning == null'
			[ ! -s "$TMP/err" ]
		fi
	done
}

@test "--from --to --step: t = from + i*step without accumulated error" {
	make_pair
	run threshold-sweep --truth "$TMP/truth.pam" --from 0.05 --to 0.95 \
		--step 0.15 "$TMP/pred.pam"
	assert_success
	json '[.thresholds[].threshold] == [0.05,0.2,0.35,0.5,0.65,0.8,0.95]'
	# (F1 2/5 at 0.7 is below calling every pixel foreground: a warning
	# on stderr, see "degenerate" below)
	threshold-sweep --truth "$TMP/truth.pam" --from 0.7 --to 0.7 \
		"$TMP/pred.pam" >"$TMP/one.json" 2>/dev/null
	output=$(cat "$TMP/one.json")
	json '[.thresholds[].threshold] == [0.7] and .best.threshold == 0.7'
	run threshold-sweep --truth "$TMP/truth.pam" --step 0.001 "$TMP/pred.pam"
	assert_success
	json '(.thresholds | length) == 1001 and .thresholds[1000].threshold == 1'
}

@test "a mask stream as the truth gives the same report" {
	make_pair
	{
		pam 4 1 1 GRAYSCALE id=a 0 1 1 0
		pam 2 1 255 GRAYSCALE 255 0
	} >"$TMP/masks.pam"
	threshold-sweep --truth "$TMP/truth.pam" <"$TMP/pred.pam" >"$TMP/a.json"
	threshold-sweep --truth "$TMP/masks.pam" <"$TMP/pred.pam" >"$TMP/b.json"
	cmp "$TMP/a.json" "$TMP/b.json"
}

@test "a multi-output prediction (FOREGROUND_*): channel 0 only, the same report" {
	make_pair
	# make_pair's maps with a second channel that would change every
	# count if it were read.
	{
		pam 4 1 65535 FOREGROUND_DISTANCE id=a 0 65535 13107 65535 \
			32768 0 65535 0
		pam 2 1 65535 FOREGROUND_DISTANCE id=b 65535 0 0 65535
	} >"$TMP/two.pam"
	threshold-sweep --truth "$TMP/truth.pam" <"$TMP/pred.pam" >"$TMP/a.json"
	threshold-sweep --truth "$TMP/truth.pam" <"$TMP/two.pam" >"$TMP/b.json"
	cmp "$TMP/a.json" "$TMP/b.json"
	pam 4 1 255 FOREGROUND_DISTANCE 0 0 0 0 0 0 0 0 >"$TMP/bad.pam"
	run threshold-sweep --truth "$TMP/truth.pam" "$TMP/bad.pam"
	assert_failure 1
	assert_one_error_line threshold-sweep
	assert_output --partial "bad.pam: image 1"
}

@test "instance truth (*_LABEL samples, LABEL images): foreground = label not 0" {
	make_pair
	# The truth of make_pair as labels: 1 and 2 (below maxval/2, so
	# not foreground by the rule of a mask) in image a, 1 in image b.
	{
		pam 4 1 255 GRAYSCALE_LABEL id=a 10 0 20 1 30 2 40 0
		pam 2 1 255 GRAYSCALE_LABEL id=b 5 1 6 0
	} >"$TMP/labels.pam"
	{
		pam 4 1 65535 LABEL id=a 0 300 7 0
		pam 2 1 65535 LABEL id=b 65535 0
	} >"$TMP/label-images.pam"
	threshold-sweep --truth "$TMP/truth.pam" <"$TMP/pred.pam" >"$TMP/a.json"
	threshold-sweep --truth "$TMP/labels.pam" <"$TMP/pred.pam" >"$TMP/b.json"
	cmp "$TMP/a.json" "$TMP/b.json"
	threshold-sweep --truth "$TMP/label-images.pam" <"$TMP/pred.pam" >"$TMP/c.json"
	cmp "$TMP/a.json" "$TMP/c.json"
}

@test "real data: counts and figures agree with an independent numpy computation" {
	tool noisy 3 <"$FIXTURES/score-real.pam" >"$TMP/p.pam"
	run threshold-sweep --truth "$FIXTURES/score-real.pam" "$TMP/p.pam"
	assert_success
	echo "$output" >"$TMP/c.json"
	tool figures 0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1 "$TMP/p.pam" \
		"$FIXTURES/score-real.pam" >"$TMP/py.json"
	run jq -e --slurpfile py "$TMP/py.json" '
		[range(11) as $i | .thresholds[$i] as $c | $py[0][$i] as $p |
		 [$c.tp,$c.fp,$c.fn,$c.tn] == $p.counts and
		 ($c.f1 - $p.pooled.dice | fabs) < 1e-12 and
		 ($c.iou - $p.pooled.iou | fabs) < 1e-12 and
		 ($c.precision - $p.pooled.precision | fabs) < 1e-12 and
		 ($c.recall - $p.pooled.recall | fabs) < 1e-12 and
		 ($c.accuracy - $p.pooled.accuracy | fabs) < 1e-12] | all' "$TMP/c.json"
	assert_success
	run threshold-sweep --per-image-mean --truth "$FIXTURES/score-real.pam" "$TMP/p.pam"
	assert_success
	echo "$output" >"$TMP/m.json"
	run jq -e --slurpfile py "$TMP/py.json" '
		[range(11) as $i | .thresholds[$i] as $c | $py[0][$i].mean as $p |
		 ($c.f1 - $p.dice | fabs) < 1e-12 and
		 ($c.iou - $p.iou | fabs) < 1e-12] | all' "$TMP/m.json"
	assert_success
}

@test "usage errors exit 2" {
	make_pair
	for args in "" "--truth" "--step 0" "--from 0.6 --to 0.4" "--from 2" \
		"--step x" "--bogus" "$TMP/pred.pam $TMP/pred.pam" "--truth -"; do
		run threshold-sweep --truth "$TMP/truth.pam" $args <"$TMP/pred.pam"
		[[ $args == "" ]] && continue
		assert_failure 2
		assert_regex "${lines[0]}" "^threshold-sweep: "
	done
	run threshold-sweep <"$TMP/pred.pam"
	assert_failure 2
}

@test "prediction and truth both stdin: exit 2 with its message" {
	make_pair
	for args in "" "-"; do
		run threshold-sweep --truth - $args <"$TMP/pred.pam"
		assert_failure 2
		assert_line --index 0 "threshold-sweep: the prediction and the truth cannot both be stdin"
		assert_line --index 1 "Try 'threshold-sweep --help' for more information."
		assert_equal "${#lines[@]}" 2
	done
}

@test "--help and --version" {
	run threshold-sweep --help
	assert_success
	assert_line --index 0 --regexp "^usage: threshold-sweep "
	run threshold-sweep --version
	assert_success
	assert_output --regexp "^threshold-sweep unetpipe [0-9]"
}

@test "size, count and id mismatches: exit 1, one line naming the image" {
	make_pair
	pam 3 1 65535 GRAYSCALE id=a 0 0 0 >"$TMP/small.pam"
	run threshold-sweep --truth "$TMP/truth.pam" <"$TMP/small.pam"
	assert_failure 1
	assert_one_error_line threshold-sweep
	assert_output --regexp "stdin: image 1: size 3x1 .*4x1"

	pam 4 1 65535 GRAYSCALE id=a 0 0 0 0 >"$TMP/one.pam"
	run threshold-sweep --truth "$TMP/truth.pam" <"$TMP/one.pam"
	assert_failure 1
	assert_one_error_line threshold-sweep
	assert_output --partial "image 2"

	cat "$TMP/pred.pam" "$TMP/pred.pam" >"$TMP/four.pam"
	run threshold-sweep --truth "$TMP/truth.pam" <"$TMP/four.pam"
	assert_failure 1
	assert_one_error_line threshold-sweep
	assert_output --partial "stdin: image 3"

	pam 4 1 65535 GRAYSCALE id=zz 0 0 0 0 >"$TMP/other.pam"
	run threshold-sweep --truth "$TMP/truth.pam" <"$TMP/other.pam"
	assert_failure 1
	assert_one_error_line threshold-sweep
	assert_output --partial "'zz'"
}

@test "wrong kinds of image: exit 1, one line" {
	make_pair
	# A binary mask is no probability map.
	pam 4 1 255 GRAYSCALE 0 255 255 0 >"$TMP/p.pam"
	run threshold-sweep --truth "$TMP/truth.pam" "$TMP/p.pam"
	assert_failure 1
	assert_one_error_line threshold-sweep
	assert_output --partial "maxval 255"
	pam 1 1 65535 RGB 1 2 3 >"$TMP/p.pam"
	run threshold-sweep --truth "$TMP/truth.pam" "$TMP/p.pam"
	assert_failure 1
	assert_one_error_line threshold-sweep
	# A probability map is no truth.
	run threshold-sweep --truth "$TMP/pred.pam" "$TMP/pred.pam"
	assert_failure 1
	assert_one_error_line threshold-sweep
	assert_output --partial "not a truth"
	run threshold-sweep --truth "$TMP/truth.pam" "$TMP/truth.pam"
	assert_failure 1
	assert_one_error_line threshold-sweep
	echo "P7 junk" >"$TMP/junk"
	run threshold-sweep --truth "$TMP/truth.pam" "$TMP/junk"
	assert_failure 1
	assert_one_error_line threshold-sweep
	run threshold-sweep --truth "$TMP/nope.pam" "$TMP/pred.pam"
	assert_failure 1
	assert_one_error_line threshold-sweep
}

@test "truncated prediction or truth: exit 1, one line, no output" {
	make_pair
	head -c -1 "$TMP/pred.pam" >"$TMP/p.pam"
	run threshold-sweep --truth "$TMP/truth.pam" "$TMP/p.pam"
	assert_failure 1
	assert_one_error_line threshold-sweep
	assert_output --partial "image 2"
	head -c -1 "$TMP/truth.pam" >"$TMP/t.pam"
	run threshold-sweep --truth "$TMP/t.pam" "$TMP/pred.pam"
	assert_failure 1
	assert_one_error_line threshold-sweep
	assert_output --partial "t.pam: image 2"
}

@test "empty input: exit 1, no images" {
	run threshold-sweep --truth /dev/null </dev/null
	assert_failure 1
	assert_one_error_line threshold-sweep
	assert_output --partial "no images"
	make_pair
	run threshold-sweep --truth "$TMP/truth.pam" </dev/null
	assert_failure 1
	assert_one_error_line threshold-sweep
}

@test "write error on stdout: exit 1" {
	make_pair
	run bash -c 'threshold-sweep --truth "$1" "$2" >/dev/full' _ \
		"$TMP/truth.pam" "$TMP/pred.pam"
	assert_failure 1
	assert_one_error_line threshold-sweep
}

@test "standard output redirected to the prediction or the truth is refused" {
	make_pair
	cp "$TMP/pred.pam" "$TMP/pred.before"
	cp "$TMP/truth.pam" "$TMP/truth.before"
	run bash -c 'threshold-sweep --truth "$1" "$2" >>"$2"' _ "$TMP/truth.pam" "$TMP/pred.pam"
	assert_failure 1
	assert_output "threshold-sweep: $TMP/pred.pam: is also the standard output"
	run bash -c 'threshold-sweep --truth "$1" <"$2" >>"$1"' _ "$TMP/truth.pam" "$TMP/pred.pam"
	assert_failure 1
	assert_output "threshold-sweep: $TMP/truth.pam: is also the standard output"
	cmp "$TMP/pred.pam" "$TMP/pred.before"
	cmp "$TMP/truth.pam" "$TMP/truth.before"
}
