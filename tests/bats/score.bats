#!/usr/bin/env bats
# score: pixel and object figures of predictions against the truth.

load helpers
source "$FIXTURES/score-pam.bash"

# The hand-made pair (as in threshold-sweep.bats): image a (4x1)
# p = 0, 0.2, 0.50001, 1 against the truth 0 1 1 0; image b (2x1) p = 1, 0
# against 1 0. At t = 0.5: a: tp 1 fp 1 fn 1 tn 1 (Dice 1/2), b: tp 1 tn 1
# (Dice 1); pooled tp 2 fp 1 fn 1 tn 2 (Dice 2/3). Objects: a predicts
# x = 2..3 against the truth x = 1..2: IoU 1/3, no match, DSB 0; b: one
# object each, IoU 1, DSB 1.
# (make_pair, tool and json are in tests/fixtures/score-pam.bash)

@test "pooled, per-image-mean and object figures at the default 0.5" {
	make_pair
	run score --truth "$TMP/truth.pam" <"$TMP/pred.pam"
	assert_success
	json '.images == 2 and .threshold == 0.5'
	json '.pooled | [.tp,.fp,.fn,.tn] == [2,1,1,2]
		and (.dice - 2/3 | fabs) < 1e-12 and .iou == 0.5
		and (.precision - 2/3 | fabs) < 1e-12
		and (.recall - 2/3 | fabs) < 1e-12
		and (.accuracy - 2/3 | fabs) < 1e-12'
	json '.per_image_mean | .dice == 0.75
		and (.iou - 2/3 | fabs) < 1e-12 and .accuracy == 0.75'
	json '.instances | .connectivity == 8 and .predicted_objects == 2
		and .true_objects == 2 and .matched_objects == 1
		and .dsb2018 == 0.5 and (.dsb2018_by_iou | length) == 10
		and .dsb2018_by_iou[0].iou == 0.5
		and .dsb2018_by_iou[9].iou == 0.95
		and ([.dsb2018_by_iou[].precision] | all(. == 0.5))'
	json '[paths(type == "number" and isnan)] == []'
	json 'keys_unsorted == ["images","threshold","pooled","per_image_mean","instances"]'
}

@test "--threshold moves the cut: p > T" {
	make_pair
	run score --threshold 0.1 --truth "$TMP/truth.pam" "$TMP/pred.pam"
	assert_success
	json '.threshold == 0.1 and (.pooled | [.tp,.fp,.fn,.tn] == [3,1,0,2])'
	run score --threshold 0.2 --truth "$TMP/truth.pam" "$TMP/pred.pam"
	assert_success
	json '.pooled | [.tp,.fp,.fn,.tn] == [2,1,1,2]'
	run score --threshold 1 --truth "$TMP/truth.pam" "$TMP/pred.pam"
	assert_success
	json '.pooled | [.tp,.fp,.fn,.tn] == [0,0,3,3] and .precision == 1
		and .dice == 0'
	json '.instances | .predicted_objects == 0 and .dsb2018 == 0'
}

@test "--threshold-from takes the best threshold of a sweep" {
	make_pair
	threshold-sweep --truth "$TMP/truth.pam" <"$TMP/pred.pam" >"$TMP/sweep.json"
	run score --threshold-from "$TMP/sweep.json" --truth "$TMP/truth.pam" \
		<"$TMP/pred.pam"
	assert_success
	json '.threshold == 0.1 and (.pooled | [.tp,.fp,.fn,.tn] == [3,1,0,2])'
	run jq -e --argjson s "$(cat "$TMP/sweep.json")" \
		'.pooled.dice == $s.best.f1 and .pooled.iou == $s.best.iou' \
		<<<"$output"
	assert_success
}

@test "a broken sweep file: exit 1, one line" {
	make_pair
	echo '{"best": {"threshold": 0.3}' >"$TMP/s1"
	echo '{"best": {"threshold": 0.3}, "best": {"threshold": 0.4}}' >"$TMP/s2"
	echo '{"thresholds": []}' >"$TMP/s3"
	echo '{"best": {"threshold": "0.3"}}' >"$TMP/s4"
	echo '{"best": {"threshold": 2}}' >"$TMP/s5"
	echo '{"best": 0.3}' >"$TMP/s6"
	echo '{"best": {"threshold": NaN}}' >"$TMP/s7"
	for s in s1 s2 s3 s4 s5 s6 s7 nope; do
		run score --threshold-from "$TMP/$s" --truth "$TMP/truth.pam" \
			<"$TMP/pred.pam"
		assert_failure 1
		assert_one_error_line score
		assert_output --partial "$TMP/$s"
	done
	run score --threshold-from "$TMP/s2" --truth "$TMP/truth.pam" <"$TMP/pred.pam"
	assert_output --partial "duplicate"
}

@test "binary masks (maxval 1 or 255): thresholds do not apply" {
	make_pair
	{
		pam 4 1 1 GRAYSCALE id=a 0 1 1 0
		pam 2 1 255 GRAYSCALE 255 0
	} >"$TMP/masks.pam"
	run score --threshold 0.9 --truth "$TMP/truth.pam" "$TMP/masks.pam"
	assert_success
	json '.threshold == null and (.pooled | [.tp,.fp,.fn,.tn] == [3,0,0,3])
		and .pooled.dice == 1 and .instances.dsb2018 == 1'
	# A mask holds only 0 and maxval: 128 and 127 of 255 are refused.
	pam 2 1 255 GRAYSCALE id=m 0 128 >"$TMP/m.pam"
	pam 2 1 1 GRAYSCALE 1 1 >"$TMP/t.pam"
	run score --truth "$TMP/t.pam" "$TMP/m.pam"
	assert_failure 1
	assert_output "score: $TMP/m.pam: image 1 (id 'm'): GRAYSCALE of maxval 255 holds 128 at x 1, y 0: neither a binary mask (only 0 and 255) nor a probability map (maxval 65535)"
}

# photos: the image channel of the real samples as GRAYSCALE maxval 255
# pictures with their ids (what a user may pass by mistake as predictions).
photos() {
	"$REFPY" -c '
import sys
data = sys.stdin.buffer.read()
out = sys.stdout.buffer
pos = 0
while pos < len(data):
    end = data.index(b"ENDHDR\n", pos) + 7
    head = data[pos:end].decode().split("\n")
    f = dict(l.split(" ", 1) for l in head[1:] if " " in l and l[0] != "#")
    w, h, d = int(f["WIDTH"]), int(f["HEIGHT"]), int(f["DEPTH"])
    ident = next(l[4:] for l in head if l.startswith("#id "))
    raster = data[end:end + w * h * d]
    out.write(b"P7\nWIDTH %d\nHEIGHT %d\nDEPTH 1\nMAXVAL 255\n"
              b"TUPLTYPE GRAYSCALE\n#id %s\nENDHDR\n" % (w, h, ident.encode()))
    out.write(raster[0::d])
    pos = end + w * h * d
' <"$FIXTURES/score-real.pam"
}

@test "a stream of photos is not a prediction: exit 1, one line naming the image" {
	photos >"$TMP/photos.pam"
	run score --truth "$FIXTURES/score-real.pam" "$TMP/photos.pam"
	assert_failure 1
	assert_one_error_line score
	assert_output --regexp "^score: $TMP/photos.pam: image 1 \(id '0121d6759c5a[0-9a-f]*'\): GRAYSCALE of maxval 255 holds [0-9]+ at x [0-9]+, y [0-9]+: neither a binary mask \(only 0 and 255\) nor a probability map \(maxval 65535\)$"
}

@test "--per-image: never the truth, the prediction, the sweep or stdout's file" {
	make_pair
	cp "$TMP/truth.pam" "$TMP/truth.before"
	cp "$TMP/pred.pam" "$TMP/pred.before"
	run score --per-image "$TMP/truth.pam" --truth "$TMP/truth.pam" "$TMP/pred.pam"
	assert_failure 1
	assert_output "score: $TMP/truth.pam: is also an input (an output never replaces an input)"
	cmp "$TMP/truth.pam" "$TMP/truth.before"
	run score --per-image "$TMP/pred.pam" --truth "$TMP/truth.pam" <"$TMP/pred.pam"
	assert_failure 1
	assert_one_error_line score
	cmp "$TMP/pred.pam" "$TMP/pred.before"
	echo '{"best": {"threshold": 0.5}}' >"$TMP/s.json"
	run score --per-image "$TMP/s.json" --threshold-from "$TMP/s.json" \
		--truth "$TMP/truth.pam" "$TMP/pred.pam"
	assert_failure 1
	assert_one_error_line score
	assert_equal "$(cat "$TMP/s.json")" '{"best": {"threshold": 0.5}}'
	run bash -c 'score --truth "$1" "$2" >>"$1"' _ "$TMP/truth.pam" "$TMP/pred.pam"
	assert_failure 1
	assert_output "score: $TMP/truth.pam: is also the standard output"
	cmp "$TMP/truth.pam" "$TMP/truth.before"
	run ls -A "$TMP"
	assert_output $'pred.before\npred.pam\ns.json\ntruth.before\ntruth.pam'
}

@test "a failed run leaves an existing --per-image file as it was, no temporary" {
	make_pair
	echo "previous lines" >"$TMP/per.jsonl"
	cat "$TMP/pred.pam" "$TMP/pred.pam" >"$TMP/long.pam"
	run score --truth "$TMP/truth.pam" --per-image "$TMP/per.jsonl" "$TMP/long.pam"
	assert_failure 1
	assert_one_error_line score
	assert_equal "$(cat "$TMP/per.jsonl")" "previous lines"
	run bash -c 'score --truth "$1" --per-image "$2" "$3" >/dev/full' _ \
		"$TMP/truth.pam" "$TMP/per.jsonl" "$TMP/pred.pam"
	assert_failure 1
	assert_output --regexp "^score: write error"
	assert_equal "$(cat "$TMP/per.jsonl")" "previous lines"
	run ls -A "$TMP"
	assert_output $'long.pam\nper.jsonl\npred.pam\ntruth.pam'
	run score --truth "$TMP/truth.pam" --per-image "$TMP/per.jsonl" "$TMP/pred.pam"
	assert_success
	assert_equal "$(wc -l <"$TMP/per.jsonl")" 2
}

@test "--per-image FILE: one JSON line per image, in order, with ids" {
	make_pair
	run score --truth "$TMP/truth.pam" --per-image "$TMP/per.jsonl" \
		<"$TMP/pred.pam"
	assert_success
	json '.images == 2'
	assert_equal "$(wc -l <"$TMP/per.jsonl")" 2
	run jq -c '[.index, .id, .width, .height, .tp, .fp, .fn, .tn,
		.predicted_objects, .true_objects, .matched_objects, .dsb2018, .dice]' \
		"$TMP/per.jsonl"
	assert_success
	assert_output '[1,"a",4,1,1,1,1,1,1,1,0,0,0.5]
[2,"b",2,1,1,0,0,1,1,1,1,1,1]'
}

@test "empty masks: both empty scores 1, one empty scores 0, never NaN" {
	pam 2 2 65535 GRAYSCALE id=e 0 0 0 0 >"$TMP/p.pam"
	pam 2 2 1 GRAYSCALE 0 0 0 0 >>"$TMP/p.pam"
	pam 2 2 1 GRAYSCALE 0 1 0 0 >>"$TMP/p.pam"
	pam 2 2 1 GRAYSCALE 0 0 0 0 >"$TMP/t.pam"
	pam 2 2 1 GRAYSCALE 1 0 0 0 >>"$TMP/t.pam"
	pam 2 2 1 GRAYSCALE 0 0 0 0 >>"$TMP/t.pam"
	run score --truth "$TMP/t.pam" --per-image "$TMP/per.jsonl" "$TMP/p.pam"
	assert_success
	json '[paths(type == "number" and isnan)] == []'
	json '.pooled | [.tp,.fp,.fn,.tn] == [0,1,1,10] and .dice == 0
		and .precision == 0 and .recall == 0'
	run jq -c '[.dice, .iou, .precision, .recall, .dsb2018]' "$TMP/per.jsonl"
	assert_output '[1,1,1,1,1]
[0,0,1,0,0]
[0,0,0,1,0]'
}

@test "--connectivity: diagonal neighbours join with 8, not with 4" {
	pam 2 2 65535 GRAYSCALE 65535 0 0 65535 >"$TMP/p.pam"
	pam 2 2 1 GRAYSCALE 1 0 0 1 >"$TMP/t.pam"
	run score --truth "$TMP/t.pam" "$TMP/p.pam"
	assert_success
	json '.instances | .connectivity == 8 and .predicted_objects == 1
		and .true_objects == 1 and .dsb2018 == 1'
	run score --connectivity 4 --truth "$TMP/t.pam" "$TMP/p.pam"
	assert_success
	json '.instances | .connectivity == 4 and .predicted_objects == 2
		and .true_objects == 2 and .matched_objects == 2'
}

@test "a split and a merged object: the DSB metric computed by hand" {
	# The case of tests/unit/test_metrics.c: 61/350.
	pam 29 1 1 GRAYSCALE 1 1 0 1 1 1 1 1 1 1 0 1 1 1 1 1 1 1 1 1 1 1 0 0 1 1 1 0 0 >"$TMP/p.pam"
	pam 29 1 1 GRAYSCALE 1 1 1 1 1 1 1 1 1 1 0 1 1 1 0 0 1 1 1 1 1 1 0 0 1 1 1 1 0 >"$TMP/t.pam"
	run score --truth "$TMP/t.pam" "$TMP/p.pam"
	assert_success
	json '.instances | .predicted_objects == 4 and .true_objects == 4
		and .matched_objects == 3 and (.dsb2018 - 61/350 | fabs) < 1e-12
		and ([.dsb2018_by_iou[].precision] | (.[0] == 0.6) and (.[5] == 0))'
}

@test "real data: agrees with an independent numpy computation" {
	tool noisy 5 0.12 <"$FIXTURES/score-real.pam" >"$TMP/p.pam"
	for t in 0.5 0.3; do
		tool figures "$t" "$TMP/p.pam" "$FIXTURES/score-real.pam" >"$TMP/py.json"
		run score --threshold "$t" --truth "$FIXTURES/score-real.pam" "$TMP/p.pam"
		assert_success
		run jq -e --slurpfile py "$TMP/py.json" '$py[0][0] as $p |
			([.pooled.tp,.pooled.fp,.pooled.fn,.pooled.tn] == $p.counts) and
			([.pooled, .per_image_mean] as [$a, $m] |
			 [$p.pooled, $p.mean] as [$pa, $pm] |
			 [("dice","iou","precision","recall","accuracy") as $k |
			  (($a[$k] - $pa[$k]) | fabs) < 1e-12 and
			  (($m[$k] - $pm[$k]) | fabs) < 1e-12] | all) and
			.instances.predicted_objects == $p.predicted_objects and
			.instances.true_objects == $p.true_objects and
			((.instances.dsb2018 - $p.dsb2018) | fabs) < 1e-12' <<<"$output"
		assert_success
	done
}

@test "multi-image stream: the truth as a sample stream of 4 real images" {
	tool noisy 7 0.12 <"$FIXTURES/score-real.pam" >"$TMP/p.pam"
	run score --truth "$FIXTURES/score-real.pam" --per-image "$TMP/per.jsonl" \
		"$TMP/p.pam"
	assert_success
	json '.images == 4 and .instances.true_objects > 10'
	run jq -r '.id[0:12]' "$TMP/per.jsonl"
	assert_output "0121d6759c5a
04acab7636c4
0ea221716cf1
0402a81e7526"
}

# Objects from labels. Image a (4x2): the truth, a GRAYSCALE_LABEL
# sample, holds two touching nuclei 1 | 2 (columns 0-1 and 2-3, labels
# below maxval/2); the prediction, a LABEL image, holds 5 (5 pixels) and 9
# (3 pixels):   truth 1 1 2 2   pred 5 5 5 9
#                     1 1 2 2        5 5 9 9
# IoU(5, 1) = 4/5, IoU(9, 2) = 3/4, IoU(5, 2) = 1/8: both match at IoU
# 0.50..0.70 (precision 1), one at 0.75 (1/3), none above: DSB
# (5 + 1/3) / 10 = 8/15. As components both would be one object, DSB 1.
# Image b (3x1), a LABEL truth 7 0 300 (labels not consecutive) and the
# prediction 1 2 3: two matches of IoU 1 and one false positive at every
# threshold: DSB 2/3, count error +1 (relative 1/2), object precision
# 2/3, recall 1, F1 4/5. Pooled: 5 predicted, 4 true, 4 matched:
# precision 4/5, recall 1, F1 8/9, count error 1 (relative 1/4), mean
# absolute count error 1/2, DSB the mean of the images' (8/15 + 2/3) / 2.
make_labels() {
	{
		pam 4 2 65535 LABEL id=a 5 5 5 9 5 5 9 9
		pam 3 1 65535 LABEL id=b 1 2 3
	} >"$TMP/pred-labels.pam"
	{
		pam 4 2 255 GRAYSCALE_LABEL id=a 9 1 9 1 9 2 9 2 9 1 9 1 9 2 9 2
		pam 3 1 65535 LABEL id=b 7 0 300
	} >"$TMP/truth-labels.pam"
}

@test "objects from labels: DSB score, object precision, recall, F1, count error" {
	make_labels
	run score --truth "$TMP/truth-labels.pam" --per-image "$TMP/per.jsonl" \
		"$TMP/pred-labels.pam"
	assert_success
	json '.images == 2 and .threshold == null'
	json '.instances | .predicted_objects == 5 and .true_objects == 4
		and .matched_objects == 4
		and (.dsb2018 - (8/15 + 2/3) / 2 | fabs) < 1e-12
		and (.object_precision - 4/5 | fabs) < 1e-12
		and .object_recall == 1
		and (.object_f1 - 8/9 | fabs) < 1e-12
		and .count_error == 1 and .relative_count_error == 0.25
		and .mean_absolute_count_error == 0.5
		and .predicted_objects_from == "labels"
		and .true_objects_from == "labels"'
	# The pixel figures: every predicted pixel is truth foreground but
	# b's middle one.
	json '.pooled | [.tp,.fp,.fn,.tn] == [10,1,0,0]'
	run jq -s -c '.[] | [.id, .predicted_objects, .true_objects,
		.matched_objects, .dsb2018, .object_precision, .object_recall,
		.object_f1, .count_error, .relative_count_error,
		.predicted_objects_from, .true_objects_from]' "$TMP/per.jsonl"
	assert_line --index 0 '["a",2,2,2,0.533333333333333,1,1,1,0,0,"labels","labels"]'
	assert_line --index 1 '["b",3,2,2,0.666666666666667,0.666666666666667,1,0.8,1,0.5,"labels","labels"]'
	# The same foreground as a binary mask: one component on each side
	# of image a (DSB 1), and the truth of b still from its labels.
	{
		pam 4 2 1 GRAYSCALE id=a 1 1 1 1 1 1 1 1
		pam 3 1 1 GRAYSCALE id=b 1 1 1
	} >"$TMP/masks.pam"
	run score --truth "$TMP/truth-labels.pam" --per-image "$TMP/per.jsonl" \
		"$TMP/masks.pam"
	assert_success
	json '.instances | .predicted_objects == 2 and .true_objects == 4
		and .predicted_objects_from == "components"
		and .true_objects_from == "labels"'
	run jq -s -c '[.[] | [.predicted_objects, .true_objects, .dsb2018,
		.count_error, .relative_count_error]]' "$TMP/per.jsonl"
	assert_output '[[1,2,0,-1,-0.5],[1,2,0,-1,-0.5]]'
	# Labels for a, a mask for b: the run saw both sources.
	{
		pam 4 2 65535 LABEL id=a 5 5 5 9 5 5 9 9
		pam 3 1 1 GRAYSCALE id=b 1 1 1
	} >"$TMP/mixed.pam"
	run score --truth "$TMP/truth-labels.pam" --per-image "$TMP/per.jsonl" \
		"$TMP/mixed.pam"
	assert_success
	json '.instances | .predicted_objects == 3
		and .predicted_objects_from == "both"
		and .true_objects_from == "labels"'
	run jq -r '.predicted_objects_from' "$TMP/per.jsonl"
	assert_output $'labels\ncomponents'
}

@test "object figures of images without objects: 1 for nothing to find, count error null when no truth" {
	{
		pam 2 1 65535 LABEL id=e 0 0
		pam 2 1 65535 LABEL id=f 4 4
	} >"$TMP/p.pam"
	{
		pam 2 1 65535 LABEL id=e 0 0
		pam 2 1 65535 LABEL id=f 0 0
	} >"$TMP/t.pam"
	run score --truth "$TMP/t.pam" --per-image "$TMP/per.jsonl" "$TMP/p.pam"
	assert_success
	json '.instances | .predicted_objects == 1 and .true_objects == 0
		and .dsb2018 == 0.5 and .object_precision == 0
		and .object_recall == 1 and .object_f1 == 0
		and .count_error == 1 and .relative_count_error == null
		and .mean_absolute_count_error == 0.5'
	run jq -s -c '[.[] | [.dsb2018, .object_precision, .object_recall,
		.object_f1, .count_error, .relative_count_error]]' "$TMP/per.jsonl"
	assert_output '[[1,1,1,1,0,null],[0,0,1,0,1,null]]'
}

@test "objects from labels agree with an independent numpy computation" {
	# The truth's components as a LABEL stream (labels 3, 6, 9 ...),
	# and a prediction with every other object cut in two and the rest
	# shifted: IoUs on both sides of the thresholds.
	tool instances <"$FIXTURES/score-real.pam" >"$TMP/t.pam"
	tool split <"$TMP/t.pam" >"$TMP/p.pam"
	tool objects "$TMP/p.pam" "$TMP/t.pam" >"$TMP/py.json"
	run score --truth "$TMP/t.pam" --per-image "$TMP/per.jsonl" "$TMP/p.pam"
	assert_success
	run jq -e --slurpfile py "$TMP/py.json" '$py[0].pooled as $p |
		.instances.predicted_objects == $p.predicted_objects and
		.instances.true_objects == $p.true_objects and
		.instances.matched_objects == $p.matched_objects and
		.instances.predicted_objects > .instances.true_objects and
		.instances.matched_objects > 0 and
		((.instances.dsb2018 - $p.dsb2018) | fabs) < 1e-12 and
		.instances.dsb2018 > 0.1 and .instances.dsb2018 < 0.9' <<<"$output"
	assert_success
	run jq -e -s --slurpfile py "$TMP/py.json" '[., $py[0].per_image] |
		transpose | map(.[0] as $c | .[1] as $p |
		$c.predicted_objects == $p.predicted_objects and
		$c.true_objects == $p.true_objects and
		$c.matched_objects == $p.matched_objects and
		(($c.dsb2018 - $p.dsb2018) | fabs) < 1e-12) | all' "$TMP/per.jsonl"
	assert_success
	# Probability maps (components) against the instance truth (labels).
	tool noisy 5 0.12 <"$FIXTURES/score-real.pam" >"$TMP/probs.pam"
	tool objects "$TMP/probs.pam" "$TMP/t.pam" >"$TMP/py.json"
	run score --truth "$TMP/t.pam" "$TMP/probs.pam"
	assert_success
	run jq -e --slurpfile py "$TMP/py.json" '$py[0].pooled as $p |
		.instances.predicted_objects_from == "components" and
		.instances.true_objects_from == "labels" and
		.instances.predicted_objects == $p.predicted_objects and
		.instances.matched_objects == $p.matched_objects and
		((.instances.dsb2018 - $p.dsb2018) | fabs) < 1e-12' <<<"$output"
	assert_success
}

@test "a multi-output prediction (FOREGROUND_*): its channel 0 scored as a map" {
	make_pair
	{
		pam 4 1 65535 FOREGROUND_DISTANCE id=a 0 65535 13107 65535 \
			32768 0 65535 0
		pam 2 1 65535 FOREGROUND_DISTANCE id=b 65535 0 0 65535
	} >"$TMP/two.pam"
	score --truth "$TMP/truth.pam" "$TMP/pred.pam" >"$TMP/a.json"
	score --truth "$TMP/truth.pam" "$TMP/two.pam" >"$TMP/b.json"
	cmp "$TMP/a.json" "$TMP/b.json"
}

@test "usage errors exit 2" {
	make_pair
	touch "$TMP/s.json"
	for args in "--threshold 2" "--threshold x" "--connectivity 6" \
		"--threshold 0.3 --threshold-from $TMP/s.json" "--bogus" \
		"--per-image" "$TMP/pred.pam $TMP/pred.pam" "--truth -"; do
		run score --truth "$TMP/truth.pam" $args <"$TMP/pred.pam"
		assert_failure 2
		assert_regex "${lines[0]}" "^score: "
	done
	run score <"$TMP/pred.pam"
	assert_failure 2
}

@test "prediction and truth both stdin: exit 2 with its message, after the sweep file is read" {
	make_pair
	run score --truth - <"$TMP/pred.pam"
	assert_failure 2
	assert_line --index 0 "score: the prediction and the truth cannot both be stdin"
	assert_line --index 1 "Try 'score --help' for more information."
	assert_equal "${#lines[@]}" 2
	run score --truth - - <"$TMP/pred.pam"
	assert_failure 2
	assert_line --index 0 "score: the prediction and the truth cannot both be stdin"
	# The check comes where evalpair_open made it: a broken sweep file
	# is reported first (exit 1), as before the check moved into score.
	echo '{"best":{"threshold":2}}' >"$TMP/bad.json"
	run score --truth - --threshold-from "$TMP/bad.json" <"$TMP/pred.pam"
	assert_failure 1
	assert_output "score: $TMP/bad.json: \"best\" threshold 2 is not in [0, 1]"
}

@test "--help and --version" {
	run score --help
	assert_success
	assert_line --index 0 --regexp "^usage: score "
	run score --version
	assert_success
	assert_output --regexp "^score unetpipe [0-9]"
}

@test "bad data: size, count, id, maxval, tuple type: exit 1, one line" {
	make_pair
	pam 3 1 65535 GRAYSCALE 0 0 0 >"$TMP/p1"
	pam 4 1 65535 GRAYSCALE 0 0 0 0 >"$TMP/p2"
	cat "$TMP/pred.pam" "$TMP/pred.pam" >"$TMP/p3"
	pam 4 1 65535 GRAYSCALE id=x 0 0 0 0 >"$TMP/p4"
	pam 4 1 1000 GRAYSCALE 0 0 0 0 >"$TMP/p5"
	pam 2 1 255 RGB 0 0 0 0 0 0 >"$TMP/p6"
	pam 2 1 255 GRAYSCALE_MASK 0 0 0 0 >"$TMP/p7"
	for p in p1:"image 1: size" p2:"image 2" p3:"image 3" p4:"'x'" \
		p5:"maxval 1000" p6:"RGB" p7:"GRAYSCALE_MASK"; do
		run score --truth "$TMP/truth.pam" "$TMP/${p%%:*}"
		assert_failure 1
		assert_one_error_line score
		assert_output --partial "${p#*:}"
	done
	run score --truth "$TMP/pred.pam" "$TMP/pred.pam"
	assert_failure 1
	assert_one_error_line score
	assert_output --partial "not a truth"
}

@test "truncated stream: exit 1, one line, nothing on stdout" {
	make_pair
	head -c -1 "$TMP/pred.pam" | {
		run score --truth "$TMP/truth.pam"
		assert_failure 1
		assert_one_error_line score
		assert_output --regexp "^score: stdin: image 2: "
	}
	head -c 30 "$TMP/truth.pam" >"$TMP/t.pam"
	run score --truth "$TMP/t.pam" "$TMP/pred.pam"
	assert_failure 1
	assert_one_error_line score
}

@test "empty input: exit 1, no images" {
	run score --truth /dev/null </dev/null
	assert_failure 1
	assert_one_error_line score
	assert_output --partial "no images"
}

@test "write errors: stdout or --per-image on /dev/full, exit 1" {
	make_pair
	run bash -c 'score --truth "$1" "$2" >/dev/full' _ "$TMP/truth.pam" "$TMP/pred.pam"
	assert_failure 1
	assert_one_error_line score
	run score --truth "$TMP/truth.pam" --per-image /dev/full "$TMP/pred.pam"
	assert_failure 1
	assert_one_error_line score
	run score --truth "$TMP/truth.pam" --per-image "$TMP/no/dir/x" "$TMP/pred.pam"
	assert_failure 1
	assert_one_error_line score
}
