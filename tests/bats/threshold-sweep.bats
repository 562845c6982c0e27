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

@test "--from --to --step: t = from + i*step without accumulated error" {
	make_pair
	run threshold-sweep --truth "$TMP/truth.pam" --from 0.05 --to 0.95 \
		--step 0.15 "$TMP/pred.pam"
	assert_success
	json '[.thresholds[].threshold] == [0.05,0.2,0.35,0.5,0.65,0.8,0.95]'
	run threshold-sweep --truth "$TMP/truth.pam" --from 0.7 --to 0.7 "$TMP/pred.pam"
	assert_success
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
