#!/usr/bin/env bats
# README.md's tour, run as written: every indented block of its section
# "A tour", in a folder laid out as a clone after `make` (bin/, pipelines/,
# data/) plus my-images/ and my-masks/, with a PATH that does not hold the
# programs, so that the tour's own PATH line must put them there. To keep
# it fast, as tests/bats/examples.bats does, ingest-resize works at 32x32,
# unet-train and the workflow train one small epoch; every option the
# tour gives is still parsed and used.

load helpers

# tour README: the indented blocks of README's "## A tour" section, as a
# script.
tour() {
	awk '
	/^## / { in_tour = ($0 == "## A tour"); next }
	in_tour && /^    / { print substr($0, 5); next }
	in_tour && /^$/ { print "" }
	' "$1"
}

# run_tour README: the tour of README in a fresh clone-like folder $TMP/c.
run_tour() {
	local d id n=0
	mkdir -p "$TMP/c/my-images" "$TMP/c/my-masks"
	cd "$TMP/c"
	ln -s "$DATA" data
	ln -s "$UNETPIPE_BIN" bin
	ln -s "$ROOT/pipelines" pipelines
	# eight of the sample images as "your own", the first nucleus of each
	# as its truth
	for d in "$DATA"/stage1_train/*/; do
		((n++ < 8)) || break
		id=$(basename "$d")
		cp "$d/images/$id.png" my-images/
		cp "$(ls "$d"/masks/*.png | head -1)" "my-masks/$id.png"
	done
	{
		# the build is the suite's: bin/ above
		echo 'make() { :; }'
		echo 'ingest-resize() { case " $* " in *" --scale "*) command ingest-resize "$@" ;; *) command ingest-resize "$@" --size 32x32 ;; esac; }'
		echo 'unet-train() { command unet-train "$@" --epochs 1 --base-filters 2 --depth 2; }'
		echo 'unetpipe-workflow() { command unetpipe-workflow --epochs 1 --base-filters 2 --depth 2 --steps-per-epoch 1 "$@"; }'
		tour "$1"
	} >tour.sh
	run env PATH=/usr/local/bin:/usr/bin:/bin timeout 600 bash -euo pipefail tour.sh
}

@test "README: the tour's blocks are found" {
	tour "$ROOT/README.md" >"$TMP/tour.sh"
	grep -qx 'export PATH=$PWD/bin:$PWD/pipelines:$PATH' "$TMP/tour.sh"
	grep -q '^ingest-resize --size 128x128 data/stage1_train > all.pam$' "$TMP/tour.sh"
	grep -q '^unetpipe-workflow --channels 1 --masks my-masks my-images/\*.png run-mine$' "$TMP/tour.sh"
	[ "$(grep -c '^unet-train ' "$TMP/tour.sh")" -eq 3 ]
}

@test "README: the tour runs as written from a clone" {
	run_tour "$ROOT/README.md"
	assert_success
	for f in all.pam train.pam val.pam test.pam nuclei.safetensors train.jsonl \
		curves.png sweep.json test.json objects.safetensors objects-sweep.json \
		labels.pam objects.json counts.csv objects.csv native.pam \
		native.safetensors native-sweep.json native-test.json \
		run-native/report.md run-mine/report.md; do
		[ -s "$f" ] || fail "no $f"
	done
	[ "$(jq .images test.json)" -eq "$(pamfile -allimages test.pam | grep -c Image)" ]
	[ "$(ls pictures | wc -l)" -eq "$(pamfile -allimages test.pam | grep -c Image)" ]
	[ "$(ls outlines | wc -l)" -eq "$(pamfile -allimages test.pam | grep -c Image)" ]
	# unetpipe-apply: a mask per image of my-images, objects and counts
	for d in found masks mine-masks; do
		for f in my-images/*.png; do
			[ -s "$d/$(basename "$f")" ] || fail "no $d/$(basename "$f")"
		done
	done
	[ -s found/objects.csv ] && [ -s found/counts.csv ]
	# the resumed run had nothing left to do; the gray run is gray
	assert_line "unetpipe-workflow: ingest data/stage1_train at native size: done"
	grep -aq '^TUPLTYPE GRAYSCALE_MASK$' run-mine/samples.pam
}

@test "README: a tour command that breaks fails the test" {
	sed 's/ --ratio 80:10:10 all.pam/ --proportion 80:10:10 all.pam/' "$ROOT/README.md" >"$TMP/README.md"
	run_tour "$TMP/README.md"
	assert_failure 2
	assert_line --partial "sample-split: "
	[ ! -e train.pam ]
}
