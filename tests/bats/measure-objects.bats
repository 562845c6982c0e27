#!/usr/bin/env bats
# measure-objects: label images to one row of measurements per object.

load helpers
source "$FIXTURES/score-pam.bash"

# make_shapes: $TMP/shapes.pam, one 16x6 LABEL image (id "shapes") of four
# objects, labels not consecutive, the L (300) touching the disc (1) by a
# corner:
#   2 a 3x3 square at x 0..2, y 0..2
#   7 one pixel at (5, 0)
#   300 an L: x = 8, y 0..2, and (9, 2), (10, 2)
#   1 a disc, x^2 + y^2 <= 4 around (13, 3): 13 pixels
make_shapes() {
	pam 16 6 65535 LABEL id=shapes \
		  2   2   2   0   0   7   0   0 300   0   0   0   0   0   0   0 \
		  2   2   2   0   0   0   0   0 300   0   0   0   0   1   0   0 \
		  2   2   2   0   0   0   0   0 300 300 300   0   1   1   1   0 \
		  0   0   0   0   0   0   0   0   0   0   0   1   1   1   1   1 \
		  0   0   0   0   0   0   0   0   0   0   0   0   1   1   1   0 \
		  0   0   0   0   0   0   0   0   0   0   0   0   0   1   0   0 \
		>"$TMP/shapes.pam"
}

# rgb W H ID: an RGB image of maxval 255 with red = x, green = y, blue =
# 100, so that an object's mean red and green are its centroid.
rgb() {
	local w=$1 h=$2 id=$3 x y v=()
	for ((y = 0; y < h; y++)); do
		for ((x = 0; x < w; x++)); do
			v+=("$x" "$y" 100)
		done
	done
	pam "$w" "$h" 255 RGB id="$id" "${v[@]}"
}

# near A B: |A - B| < 1e-12 in jq.
NEAR='def near($a; $b): (($a - $b) | fabs) < 1e-12;'

HEADER=image,id,label,area,centroid_x,centroid_y,bbox_x,bbox_y,bbox_width,bbox_height,equivalent_diameter,perimeter,major_axis_length,minor_axis_length,eccentricity,solidity

@test "every column of a square, a disc, an L and one pixel, by hand" {
	make_shapes
	run measure-objects --json "$TMP/shapes.pam"
	assert_success
	assert_equal "${#lines[@]}" 4
	# Rows in label order; every key, in the CSV order.
	run jq -e -s "$NEAR"'
	  (map(.label) == [1, 2, 7, 300]) and
	  (.[0] | keys_unsorted | join(",")) == "'"$HEADER"'" and
	  all(.[]; .image == 1 and .id == "shapes") and
	  # The square: area 9, variance 2/3 on each axis, hull 3x3; the
	  # perimeter 4 (n - 1) = 8.
	  (.[1] | .area == 9 and .centroid_x == 1 and .centroid_y == 1 and
	   [.bbox_x, .bbox_y, .bbox_width, .bbox_height] == [0, 0, 3, 3] and
	   near(.equivalent_diameter; (36 / (1 | atan * 4)) | sqrt) and
	   .perimeter == 8 and
	   near(.major_axis_length; 4 * (2 / 3 | sqrt)) and
	   near(.minor_axis_length; 4 * (2 / 3 | sqrt)) and
	   .eccentricity == 0 and .solidity == 1) and
	  # One pixel: no spread, perimeter 0, its own square as hull.
	  (.[2] | .area == 1 and .centroid_x == 5 and .centroid_y == 0 and
	   [.bbox_x, .bbox_y, .bbox_width, .bbox_height] == [5, 0, 1, 1] and
	   near(.equivalent_diameter; (4 / (1 | atan * 4)) | sqrt) and
	   .perimeter == 0 and .major_axis_length == 0 and
	   .minor_axis_length == 0 and .eccentricity == 0 and
	   .solidity == 1) and
	  # The L: centroid (43/5, 7/5); var x = var y = 0.64, cov 0.36, so
	  # l1 = 1, l2 = 0.28; border codes 3, 15, 5, 15, 3: perimeter 3;
	  # hull (8,0) (9,0) (11,2) (11,3) (8,3), area 7.
	  (.[3] | .area == 5 and near(.centroid_x; 8.6) and
	   near(.centroid_y; 1.4) and
	   [.bbox_x, .bbox_y, .bbox_width, .bbox_height] == [8, 0, 3, 3] and
	   near(.equivalent_diameter; (20 / (1 | atan * 4)) | sqrt) and
	   .perimeter == 3 and near(.major_axis_length; 4) and
	   near(.minor_axis_length; 4 * (0.28 | sqrt)) and
	   near(.eccentricity; 0.72 | sqrt) and near(.solidity; 5 / 7)) and
	  # The disc: 1 + 3 + 5 + 3 + 1 pixels, sum of x^2 14, 8 border
	  # pixels of code 21 (sqrt 2 each), hull the 5x5 square less four
	  # corner triangles of area 2: 17.
	  (.[0] | .area == 13 and .centroid_x == 13 and .centroid_y == 3 and
	   [.bbox_x, .bbox_y, .bbox_width, .bbox_height] == [11, 1, 5, 5] and
	   near(.equivalent_diameter; (52 / (1 | atan * 4)) | sqrt) and
	   near(.perimeter; 8 * (2 | sqrt)) and
	   near(.major_axis_length; 4 * (14 / 13 | sqrt)) and
	   near(.minor_axis_length; 4 * (14 / 13 | sqrt)) and
	   .eccentricity == 0 and near(.solidity; 13 / 17))' <<<"$output"
	assert_success
}

@test "CSV: the header line, then the same values, 15 significant digits" {
	make_shapes
	run measure-objects "$TMP/shapes.pam"
	assert_success
	assert_equal "${#lines[@]}" 5
	assert_line --index 0 "$HEADER"
	assert_line --index 1 "1,shapes,1,13,13,3,11,1,5,5,4.06842894512822,11.3137084989848,4.15099617330217,4.15099617330217,0,0.764705882352941"
	assert_line --index 2 "1,shapes,2,9,1,1,0,0,3,3,3.38513750128654,8,3.2659863237109,3.2659863237109,0,1"
	assert_line --index 3 "1,shapes,7,1,5,0,5,0,1,1,1.12837916709551,0,0,0,0,1"
	assert_line --index 4 "1,shapes,300,5,8.6,1.4,8,0,3,3,2.52313252202016,3,4,2.11660104885167,0.848528137423857,0.714285714285714"
	# The numbers of the CSV are those of the JSON.
	measure-objects --json "$TMP/shapes.pam" >"$TMP/rows.jsonl"
	run jq -r '[.[]] | map(tostring) | join(",")' "$TMP/rows.jsonl"
	assert_line --index 0 --regexp '^1,shapes,1,13,13'
}

@test "--image: mean and integrated intensity per channel, in sample units" {
	make_shapes
	rgb 16 6 shapes >"$TMP/rgb.pam"
	run measure-objects --json --image "$TMP/rgb.pam" "$TMP/shapes.pam"
	assert_success
	# red = x and green = y: the means are the centroid, the sums the
	# centroid times the area; blue is 100 everywhere.
	run jq -e -s "$NEAR"'length == 4 and all(.[];
		near(.mean_red; .centroid_x) and near(.mean_green; .centroid_y)
		and .mean_blue == 100 and .integrated_blue == 100 * .area
		and .integrated_red == (.centroid_x * .area | round)
		and .integrated_green == (.centroid_y * .area | round)) and
		(.[3] | .integrated_red == 43 and .integrated_green == 7) and
		(.[0] | keys_unsorted[16:]) == ["mean_red", "mean_green",
		"mean_blue", "integrated_red", "integrated_green",
		"integrated_blue"]' <<<"$output"
	assert_success
	run measure-objects --image "$TMP/rgb.pam" "$TMP/shapes.pam"
	assert_success
	assert_line --index 0 "$HEADER,mean_red,mean_green,mean_blue,integrated_red,integrated_green,integrated_blue"
	assert_line --index 4 --regexp ',8\.6,1\.4,100,43,7,500$'
	# A grey sample stream (mask as last channel, not measured): one
	# channel, "intensity"; its values 0..maxval, not divided.
	pam 2 1 65535 LABEL id=g 5 0 >"$TMP/l.pam"
	pam 2 1 1000 GRAYSCALE_MASK id=g 700 1000 3 0 >"$TMP/g.pam"
	run measure-objects --image "$TMP/g.pam" "$TMP/l.pam"
	assert_success
	assert_line --index 0 "$HEADER,mean_intensity,integrated_intensity"
	assert_line --index 1 --regexp '^1,g,5,1,.*,700,700$'
}

@test "a stream: an empty image gives no row and the count 0; ids quoted as RFC 4180 says" {
	make_shapes
	{
		cat "$TMP/shapes.pam"
		pam 3 2 65535 LABEL id=empty 0 0 0 0 0 0
		pam 2 1 65535 LABEL 'id=a,"b"' 4 4
		pam 2 1 65535 LABEL 9 0
	} >"$TMP/stream.pam"
	run measure-objects --counts "$TMP/counts.csv" -o "$TMP/rows.csv" \
		"$TMP/stream.pam"
	assert_success
	assert_output ""
	run cat "$TMP/counts.csv"
	assert_output 'image,id,objects
1,shapes,4
2,empty,0
3,"a,""b""",1
4,,1'
	run tail -n 2 "$TMP/rows.csv"
	assert_line --index 0 '3,"a,""b""",4,2,0.5,0,0,0,2,1,1.59576912160573,0,2,0,1,1'
	assert_line --index 1 '4,,9,1,0,0,0,0,1,1,1.12837916709551,0,0,0,0,1'
	# An independent CSV reader sees the fields.
	run "$REFPY" -c 'import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
print(len(rows), [r["id"] for r in rows][-2:], rows[-2]["area"])' "$TMP/rows.csv"
	assert_output "6 ['a,\"b\"', ''] 2"
	run measure-objects --json --counts "$TMP/counts.jsonl" "$TMP/stream.pam"
	assert_success
	run jq -s -c '.' "$TMP/counts.jsonl"
	assert_output '[{"image":1,"id":"shapes","objects":4},{"image":2,"id":"empty","objects":0},{"image":3,"id":"a,\"b\"","objects":1},{"image":4,"id":null,"objects":1}]'
}

@test "empty streams: the header alone, the counts header alone" {
	run measure-objects --counts "$TMP/c.csv" </dev/null
	assert_success
	assert_output "$HEADER"
	run cat "$TMP/c.csv"
	assert_output "image,id,objects"
	run measure-objects --json </dev/null
	assert_success
	assert_output ""
}

@test "*_LABEL samples: the labels are the last channel" {
	pam 3 1 255 GRAYSCALE_LABEL id=s 10 2 20 0 30 2 >"$TMP/s.pam"
	run measure-objects "$TMP/s.pam"
	assert_success
	assert_line --index 1 '1,s,2,2,1,0,0,0,3,1,1.59576912160573,0,4,0,1,0.666666666666667'
}

@test "a mismatched --image stream: exit 1, one line, no output file" {
	make_shapes
	rgb 16 6 shapes >"$TMP/rgb.pam"
	rgb 15 6 shapes >"$TMP/small.pam"
	rgb 16 6 other >"$TMP/other.pam"
	cat "$TMP/rgb.pam" "$TMP/rgb.pam" >"$TMP/two.pam"
	pam 16 6 255 GRAYSCALE $(seq 96 | sed 's/.*/0/') >"$TMP/grey.pam"
	cat "$TMP/rgb.pam" "$TMP/grey.pam" >"$TMP/mixed.pam"
	cat "$TMP/shapes.pam" "$TMP/shapes.pam" >"$TMP/shapes2.pam"
	echo keep >"$TMP/out.csv"
	cp "$TMP/out.csv" "$TMP/saved.csv"
	for c in small.pam:shapes.pam:"size 15x6 differs" \
		other.pam:shapes.pam:"id 'other' differs" \
		two.pam:shapes.pam:"image 2: no matching label image" \
		rgb.pam:shapes2.pam:"image 2: no matching image" \
		mixed.pam:shapes2.pam:"image 2: 1 channel(s) where the first image had 3"; do
		IFS=: read -r img lab msg <<<"$c"
		run measure-objects --image "$TMP/$img" -o "$TMP/out.csv" \
			--counts "$TMP/counts.csv" "$TMP/$lab"
		assert_failure 1
		assert_one_error_line measure-objects
		assert_output --partial "$msg"
		cmp "$TMP/out.csv" "$TMP/saved.csv"
		[ ! -e "$TMP/counts.csv" ]
	done
	run ls "$TMP"
	refute_output --partial ".csv."
}

@test "bad input: not a label image, truncated, a broken header: exit 1, one line" {
	make_shapes
	pam 2 1 255 GRAYSCALE_MASK 0 0 0 255 >"$TMP/mask.pam"
	pam 1 1 255 RGB 1 2 3 >"$TMP/rgb.pam"
	pam 2 1 65535 FOREGROUND_DISTANCE 1 2 3 4 >"$TMP/probs.pam"
	head -c -3 "$TMP/shapes.pam" >"$TMP/cut.pam"
	printf 'P7\nWIDTH 0\n' >"$TMP/head.pam"
	for f in mask rgb probs cut head; do
		run measure-objects "$TMP/$f.pam"
		assert_failure 1
		assert_one_error_line measure-objects
		assert_output --partial "$f.pam: image 1"
	done
	run measure-objects "$TMP/nope.pam"
	assert_failure 1
	assert_one_error_line measure-objects
}

@test "outputs: never an input, committed only whole, no temporary left" {
	make_shapes
	cp "$TMP/shapes.pam" "$TMP/saved.pam"
	run measure-objects -o "$TMP/shapes.pam" "$TMP/shapes.pam"
	assert_failure
	assert_one_error_line measure-objects
	cmp "$TMP/shapes.pam" "$TMP/saved.pam"
	run measure-objects --counts "$TMP/shapes.pam" <"$TMP/shapes.pam"
	assert_failure
	cmp "$TMP/shapes.pam" "$TMP/saved.pam"
	run measure-objects -o "$TMP/x.csv" --counts "$TMP/x.csv" "$TMP/shapes.pam"
	assert_failure 2
	assert_line --index 0 "measure-objects: output '$TMP/x.csv' given twice"
	[ ! -e "$TMP/x.csv" ]
	run bash -c 'measure-objects "$1" >>"$1"' _ "$TMP/shapes.pam"
	assert_failure
	cmp "$TMP/shapes.pam" "$TMP/saved.pam"
	measure-objects -o "$TMP/a.csv" "$TMP/shapes.pam"
	measure-objects "$TMP/shapes.pam" | cmp - "$TMP/a.csv"
	run ls "$TMP"
	refute_output --partial ".csv."
	run measure-objects -o "$TMP/no/dir/a.csv" "$TMP/shapes.pam"
	assert_failure 1
	assert_one_error_line measure-objects
	run bash -c 'measure-objects "$1" >/dev/full' _ "$TMP/shapes.pam"
	assert_failure 1
	assert_one_error_line measure-objects
}

@test "real nuclei: every measurement agrees with an independent numpy computation" {
	# Label streams of 4 real images: the truth's components, and the
	# same with every other nucleus cut in two (see score-tool.py).
	"$REFPY" "$FIXTURES/score-tool.py" instances \
		<"$FIXTURES/score-real.pam" >"$TMP/t.pam"
	"$REFPY" "$FIXTURES/score-tool.py" split <"$TMP/t.pam" >"$TMP/p.pam"
	for f in t p; do
		"$REFPY" "$FIXTURES/score-tool.py" measure "$TMP/$f.pam" \
			>"$TMP/py.jsonl"
		measure-objects --json "$TMP/$f.pam" >"$TMP/c.jsonl"
		run jq -e -n --slurpfile c "$TMP/c.jsonl" \
			--slurpfile p "$TMP/py.jsonl" '
			($c | length) == ($p | length) and ($c | length) > 20 and
			([$c, $p] | transpose | all(.[0] as $a | .[1] as $b |
			  $b | keys | all(. as $k |
			    if ($b[$k] | type) == "number" then
			      (($a[$k] - $b[$k]) | fabs) <=
			        1e-12 * ([1, ($b[$k] | fabs)] | max)
			    else $a[$k] == $b[$k] end)))'
		assert_success
	done
}

@test "usage errors exit 2" {
	for args in "--bogus" "--image" "a.pam b.pam" "--image - -" "--image -"; do
		run measure-objects $args </dev/null
		assert_failure 2
		assert_regex "${lines[0]}" "^measure-objects: "
	done
}

@test "--help and --version" {
	run measure-objects --help
	assert_success
	assert_line --index 0 --regexp "^usage: measure-objects "
	run measure-objects --version
	assert_success
	assert_output --regexp "^measure-objects unetpipe [0-9]"
}
