#!/usr/bin/env bats
# stream-shard and stream-join: a stream cut into workers' shards and
# joined back; unet-infer over many workers gives the bytes of one run;
# the recipes of unetpipe(7), MANY WORKERS, run as written.

load helpers

setup_file() {
	local d=$BATS_FILE_TMPDIR
	export MODEL=$d/m.safetensors IMAGES=$d/images.pam
	unet-train -q --threads 1 --epochs 1 --base-filters 4 --depth 3 \
		--val-split 0 -o "$MODEL" "$FIXTURES/train-16.pam"
	# 9 RGB images of five sizes, with ids and an original size
	cat "$FIXTURES/infer-rgb.pam" "$FIXTURES/infer-128.pam" \
		"$FIXTURES/infer-rgb.pam" >"$IMAGES"
}

# gray ID VALUE: a 2x1 GRAYSCALE image as every filter writes it (magic,
# comments, fields), id ID ("-": none), a comment, both samples VALUE.
gray() {
	printf 'P7\n'
	[[ $1 == - ]] || printf '#id %s\n' "$1"
	printf '#note %s\nWIDTH 2\nHEIGHT 1\nDEPTH 1\nMAXVAL 255\n' "$2"
	printf 'TUPLTYPE GRAYSCALE\nENDHDR\n'
	printf "\\x$(printf %02x "$2")\\x$(printf %02x "$2")"
}

# stream N: images s0 ... s(N-1), image i of value i.
stream() {
	local i
	for ((i = 0; i < $1; i++)); do gray "s$i" "$i"; done
}

# ids FILE: the ids of a stream, one line, space-separated.
ids() {
	grep -a '^#id ' "$1" | cut -c5- | tr '\n' ' ' | sed 's/ $//'
}

@test "round robin: image i to shard i mod N, whole and unchanged, in order" {
	stream 7 >"$TMP/in.pam"
	cp "$TMP/in.pam" "$TMP/saved.pam"
	for k in 0 1 2; do
		stream-shard --shards 3 --index "$k" "$TMP/in.pam" >"$TMP/s$k.pam"
	done
	run ids "$TMP/s0.pam"
	assert_output "s0 s3 s6"
	run ids "$TMP/s1.pam"
	assert_output "s1 s4"
	run ids "$TMP/s2.pam"
	assert_output "s2 s5"
	# the bytes of the images themselves, comments and raster included
	{ gray s1 1; gray s4 4; } | cmp - "$TMP/s1.pam"
	# stdin, '-' and the short options give the same
	stream-shard -n 3 -k 1 <"$TMP/in.pam" | cmp - "$TMP/s1.pam"
	stream-shard --shards 3 --index 1 - <"$TMP/in.pam" | cmp - "$TMP/s1.pam"
	cmp "$TMP/in.pam" "$TMP/saved.pam"
	# one shard is the stream; more shards than images: empty ones
	stream-shard --shards 1 --index 0 "$TMP/in.pam" | cmp - "$TMP/in.pam"
	stream-shard --shards 9 --index 7 "$TMP/in.pam" >"$TMP/s7.pam"
	[[ -f $TMP/s7.pam && ! -s $TMP/s7.pam ]]
	stream-shard --shards 9 --index 6 "$TMP/in.pam" | cmp - <(gray s6 6)
}

@test "join: the shards of every count back into the stream, byte for byte" {
	local n m k files
	for m in 0 1 2 3 5 8; do
		stream "$m" >"$TMP/in.pam"
		for n in 1 2 3 4; do
			files=()
			for ((k = 0; k < n; k++)); do
				stream-shard -n "$n" -k "$k" "$TMP/in.pam" >"$TMP/s$k.pam"
				files+=("$TMP/s$k.pam")
			done
			stream-join "${files[@]}" | cmp - "$TMP/in.pam"
		done
	done
	# pipes only: the same stream
	stream 5 >"$TMP/in.pam"
	stream-join <(stream-shard -n 2 -k 0 "$TMP/in.pam") \
		<(stream-shard -n 2 -k 1 "$TMP/in.pam") | cmp - "$TMP/in.pam"
	# '-' among regular files, stdin a regular file read twice
	stream-shard -n 2 -k 0 "$TMP/in.pam" >"$TMP/s0.pam"
	stream-shard -n 2 -k 1 "$TMP/in.pam" >"$TMP/s1.pam"
	stream-join "$TMP/s0.pam" - <"$TMP/s1.pam" | cmp - "$TMP/in.pam"
	cat "$TMP/s1.pam" | stream-join "$TMP/s0.pam" - | cmp - "$TMP/in.pam"
}

@test "ids, original sizes and other comments carried through both; every kind of image" {
	{
		printf 'P7\nWIDTH 1\nHEIGHT 1\nDEPTH 1\nMAXVAL 255\nTUPLTYPE GRAYSCALE\n'
		printf '#id late\n#original-size 640x480\n#made by hand\nENDHDR\nA'
		cat "$FIXTURES/infer-sample.pam" "$FIXTURES/score-real.pam"
		mkpam 1 2 1 65535 LABEL lab 3 0
		mkpam 1 1 2 65535 FOREGROUND_DISTANCE two 65535 7
	} >"$TMP/in.pam"
	stream-shard -n 2 -k 0 "$TMP/in.pam" >"$TMP/s0.pam"
	stream-shard -n 2 -k 1 "$TMP/in.pam" >"$TMP/s1.pam"
	stream-join "$TMP/s0.pam" "$TMP/s1.pam" >"$TMP/out.pam"
	# the same images, samples and ids, in order
	diff <(pam_dump "$TMP/in.pam") <(pam_dump "$TMP/out.pam")
	run pam_dump "$TMP/s1.pam"
	assert_line --index 0 --regexp '^crop-64 64x64x4 255 RGB_MASK$'
	# the comments, moved before the fields, unchanged
	run grep -a '^#' "$TMP/s0.pam"
	assert_line --index 0 '#id late'
	assert_line --index 1 '#original-size 640x480'
	assert_line --index 2 '#made by hand'
	diff <(grep -a '^#' "$TMP/in.pam") <(grep -a '^#' "$TMP/out.pam")
	# the join is the stream as written by a filter: shards of one shard
	stream-shard -n 1 -k 0 "$TMP/in.pam" | cmp - "$TMP/out.pam"
	# PGM and PPM are read, written as PAM
	printf 'P5\n2 1\n255\nxy' >"$TMP/g.pgm"
	stream-shard -n 1 -k 0 "$TMP/g.pgm" >"$TMP/g.pam"
	run head -c 3 "$TMP/g.pam"
	assert_output P7
	pamtopnm <"$TMP/g.pam" | cmp - "$TMP/g.pgm"
}

@test "--output PATTERN: every shard in one pass, as --index writes it" {
	stream 8 >"$TMP/in.pam"
	cd "$TMP"
	stream-shard --shards 3 --output 'part-%d.pam' in.pam
	for k in 0 1 2; do
		stream-shard --shards 3 --index "$k" in.pam | cmp - "part-$k.pam"
	done
	stream-join part-0.pam part-1.pam part-2.pam | cmp - in.pam
	# zero padding and a literal '%'
	stream-shard -n 12 -o 'p%%-%03d.pam' <in.pam
	run ls
	assert_output --partial 'p%-000.pam'
	assert_output --partial 'p%-011.pam'
	[[ ! -s p%-011.pam && -s p%-007.pam ]]
	run ls p%-*.pam
	assert_equal "${#lines[@]}" 12
}

@test "--output: a bad stream writes no shard, replaces none, leaves no temporary" {
	cd "$TMP"
	stream 4 >good.pam
	{ stream 5; gray s5 5 | head -c 40; } >bad.pam
	stream-shard -n 2 -o 'out-%d.pam' good.pam
	cp out-0.pam keep-0.pam
	cp out-1.pam keep-1.pam
	run stream-shard -n 2 -o 'out-%d.pam' bad.pam
	assert_failure 1
	assert_one_error_line stream-shard
	assert_output --partial "image 6"
	cmp out-0.pam keep-0.pam
	cmp out-1.pam keep-1.pam
	run ls
	assert_output $'bad.pam\ngood.pam\nkeep-0.pam\nkeep-1.pam\nout-0.pam\nout-1.pam'
	# an output that is the input, a folder, a FIFO: refused before
	# anything is read or written
	run stream-shard -n 2 -o 'out-%d.pam' out-1.pam
	assert_failure 1
	assert_one_error_line stream-shard
	cmp out-1.pam keep-1.pam
	mkdir dir-1.pam
	mkfifo fifo-1.pam
	for p in 'dir-%d.pam' 'fifo-%d.pam'; do
		run stream-shard -n 2 -o "$p" good.pam
		assert_failure 1
		assert_one_error_line stream-shard
		[[ ! -e ${p/\%d/0} ]]
	done
	[[ -d dir-1.pam && -p fifo-1.pam ]]
}

@test "--pixels: each image to the shard of the fewest pixels so far; joined by --order" {
	# sizes 4x4, 1x1, 1x1, 2x2, 3x1, 1x2: pixels 16 1 1 4 3 2
	{
		mkpam 4 4 1 255 GRAYSCALE a $(seq 16)
		mkpam 1 1 1 255 GRAYSCALE b 1
		mkpam 1 1 1 255 GRAYSCALE c 2
		mkpam 2 2 1 255 GRAYSCALE d 1 2 3 4
		mkpam 3 1 1 255 GRAYSCALE e 5 6 7
		mkpam 1 2 1 255 GRAYSCALE f 8 9
	} | stream-shard -n 1 -k 0 >"$TMP/in.pam"
	# 0: a (16); 1: b (1), c (2), d (6), e (9), f (11): always the lighter
	stream-shard --shards 2 --pixels --index 0 "$TMP/in.pam" >"$TMP/p0.pam"
	stream-shard -n 2 -p -k 1 <"$TMP/in.pam" >"$TMP/p1.pam"
	run ids "$TMP/p0.pam"
	assert_output "a"
	run ids "$TMP/p1.pam"
	assert_output "b c d e f"
	# three shards, a tie to the first: a | b (1) d (5) | c (1) e (4) f (6)
	stream-shard -n 3 -p -o "$TMP/q%d.pam" "$TMP/in.pam"
	run ids "$TMP/q1.pam"
	assert_output "b d"
	run ids "$TMP/q2.pam"
	assert_output "c e f"
	stream-join --order "$TMP/in.pam" "$TMP/q0.pam" "$TMP/q1.pam" "$TMP/q2.pam" |
		cmp - "$TMP/in.pam"
	for k in 0 1 2; do
		stream-shard -n 3 -p -k "$k" "$TMP/in.pam" | cmp - "$TMP/q$k.pam"
	done
	# the round-robin join refuses them: their lengths are not round-robin
	run stream-join "$TMP/p0.pam" "$TMP/p1.pam"
	assert_failure 1
	assert_one_error_line stream-join
}

@test "--ids: the listed images in stream order; an image without id is an error" {
	stream 6 >"$TMP/in.pam"
	printf 's4\r\n\ns1\nnone\n' >"$TMP/list"
	stream-shard --ids "$TMP/list" "$TMP/in.pam" >"$TMP/out.pam"
	{ gray s1 1; gray s4 4; } | cmp - "$TMP/out.pam"
	stream-shard -i "$TMP/list" <"$TMP/in.pam" | cmp - "$TMP/out.pam"
	: >"$TMP/empty-list"
	stream-shard --ids "$TMP/empty-list" "$TMP/in.pam" >"$TMP/out.pam"
	[[ ! -s $TMP/out.pam ]]
	{ gray s1 1; gray - 9; gray s4 4; } >"$TMP/noid.pam"
	run bash -c "stream-shard --ids '$TMP/list' '$TMP/noid.pam' 2>&1 >'$TMP/out.pam'"
	assert_failure 1
	assert_one_error_line stream-shard
	assert_output "stream-shard: $TMP/noid.pam: image 2: no id (--ids selects images by id)"
	gray s1 1 | cmp - "$TMP/out.pam"
	run stream-shard --ids "$TMP/missing" "$TMP/in.pam"
	assert_failure 1
	assert_one_error_line stream-shard
}

@test "usage errors: exit 2, the program's message first, nothing written" {
	stream 3 >"$TMP/in.pam"
	local a
	for a in "-n 0 -k 0" "-n 2 -k 2" "-n 3 -k -1" "-n 1001 -k 0" "-n x -k 0" \
		"-n 2" "-k 0" "" "-n 2 -k 0 -o s%d" "-n 2 -o s" "-n 2 -o s%d%d" \
		"-n 2 -o s%x%d" "--ids l -n 2" "--ids l -k 0" "-n 2 -k 0 a b" \
		"--ids l --pixels" "--pixels -k 0" \
		"--frobnicate" "-n"; do
		run bash -c "stream-shard $a '$TMP/in.pam' 2>&1 >'$TMP/out'"
		assert_equal "$status" 2
		assert_regex "${lines[0]}" '^stream-shard: '
		[[ ! -s $TMP/out ]] || fail "stream-shard $a wrote something"
	done
	for a in "" "--output" "-x a" "- -"; do
		run bash -c "stream-join $a <'$TMP/in.pam' 2>&1 >'$TMP/out'"
		assert_equal "$status" 2
		assert_regex "${lines[0]}" '^stream-join: '
		[[ ! -s $TMP/out ]]
	done
	run stream-join $(seq -f "$TMP/in.pam" 1001)
	assert_failure 2
	for p in stream-shard stream-join; do
		run "$p" --help
		assert_success
		assert_line --index 0 --regexp "^usage: $p "
		run "$p" -h
		assert_success
		run "$p" --version
		assert_success
		assert_output --regexp "^$p unetpipe [0-9.]+$"
		run "$p" -V
		assert_output --regexp "^$p unetpipe [0-9.]+$"
	done
}

@test "empty streams: empty shards; empty shards join into an empty stream" {
	: >"$TMP/empty.pam"
	stream-shard -n 3 -k 2 "$TMP/empty.pam" >"$TMP/s.pam"
	[[ -f $TMP/s.pam && ! -s $TMP/s.pam ]]
	stream-shard -n 2 -o "$TMP/e-%d.pam" </dev/null
	[[ -f $TMP/e-0.pam && ! -s $TMP/e-0.pam && -f $TMP/e-1.pam && ! -s $TMP/e-1.pam ]]
	stream-join "$TMP/e-0.pam" "$TMP/e-1.pam" >"$TMP/j.pam"
	[[ -f $TMP/j.pam && ! -s $TMP/j.pam ]]
	stream-join <(:) <(:) <(:) >"$TMP/j.pam"
	[[ ! -s $TMP/j.pam ]]
	stream-join --output "$TMP/j2.pam" "$TMP/empty.pam"
	[[ -f $TMP/j2.pam && ! -s $TMP/j2.pam ]]
}

@test "truncated and bad streams: the whole images before, then one line" {
	{ stream 3; gray s3 3 | head -c 50; } >"$TMP/trunc.pam"
	run bash -c "stream-shard -n 1 -k 0 '$TMP/trunc.pam' 2>'$TMP/err' >'$TMP/out'"
	assert_failure 1
	run cat "$TMP/err"
	assert_one_error_line stream-shard
	assert_output --partial "image 4"
	stream 3 | cmp - "$TMP/out"
	# a bad image in a regular shard: nothing written at all
	stream 2 >"$TMP/a.pam"
	run bash -c "stream-join '$TMP/a.pam' '$TMP/trunc.pam' 2>'$TMP/err' >'$TMP/out'"
	assert_failure 1
	run cat "$TMP/err"
	assert_one_error_line stream-join
	assert_output --partial "trunc.pam: image 4"
	[[ ! -s $TMP/out ]]
	# garbage, another magic: one line
	printf 'junk\n' >"$TMP/junk.pam"
	run stream-shard -n 2 -k 1 "$TMP/junk.pam"
	assert_failure 1
	assert_one_error_line stream-shard
	run stream-join "$TMP/junk.pam"
	assert_failure 1
	assert_one_error_line stream-join
}

@test "shards of the wrong lengths: one line naming the shard; nothing written from files" {
	stream 7 >"$TMP/in.pam"
	cd "$TMP"
	stream-shard -n 3 -o 's%d.pam' in.pam   # lengths 3 2 2
	stream 1 >one.pam
	echo keep >out.pam
	# a shard after a shorter one; given twice; in the wrong order
	for args in "s0.pam s1.pam s0.pam" "s1.pam s0.pam s2.pam" \
		"s0.pam one.pam s2.pam" "s0.pam s2.pam in.pam"; do
		run bash -c "stream-join $args 2>err >stdout"
		assert_failure 1
		run cat err
		assert_one_error_line stream-join
		[[ ! -s stdout ]] || fail "stream-join $args wrote to stdout"
		run stream-join --output out.pam $args
		assert_failure 1
		[[ $(cat out.pam) == keep ]]
	done
	run stream-join s0.pam s1.pam s0.pam
	assert_output "stream-join: s0.pam: 3 images, more than the earlier shard s1.pam (2): not round-robin shards in order"
	run stream-join s0.pam one.pam one.pam
	assert_output "stream-join: one.pam: 1 image, 2 fewer than the earlier shard s0.pam (3): round-robin shards differ by at most one"
	# from pipes: found when a shard ends, after whole images
	run bash -c "stream-join s0.pam <(cat one.pam) <(cat one.pam) 2>err >stdout"
	assert_failure 1
	run cat err
	assert_one_error_line stream-join
	assert_output --regexp "^stream-join: /dev/fd/[0-9]+: 1 image, at least 2 fewer than the earlier shard s0.pam \(at least 3\)"
	run pamfile -allimages stdout
	assert_success
	run bash -c "stream-join <(cat s1.pam) <(cat s0.pam) s2.pam 2>err >stdout"
	assert_failure 1
	run cat err
	assert_output --regexp "^stream-join: /dev/fd/[0-9]+: at least 3 images, more than the earlier shard /dev/fd/[0-9]+ \(2\)"
	# and --output keeps its file as it was
	run stream-join --output out.pam s0.pam <(cat one.pam) s2.pam
	assert_failure 1
	[[ $(cat out.pam) == keep ]]
	run ls
	assert_output $'err\nin.pam\none.pam\nout.pam\ns0.pam\ns1.pam\ns2.pam\nstdout'
}

@test "--order: shards cut by id joined in the order of the stream's ids" {
	stream 6 >"$TMP/in.pam"
	cd "$TMP"
	printf 's1\ns4\n' >a.txt
	printf 's0\ns2\ns3\ns5\n' >b.txt
	stream-shard --ids a.txt in.pam >a.pam
	stream-shard --ids b.txt in.pam >b.pam
	stream-join --order in.pam a.pam b.pam | cmp - in.pam
	stream-join -r in.pam b.pam a.pam | cmp - in.pam
	# from pipes, and the stream on stdin
	stream-join --order <(cat in.pam) <(cat b.pam) a.pam | cmp - in.pam
	stream-join --order - b.pam <(cat a.pam) <in.pam | cmp - in.pam
	stream-join --order in.pam b.pam - <a.pam | cmp - in.pam
	# the maps of the shards, in the order of the images
	{ gray s1 101; gray s4 104; } >a-maps.pam
	{ gray s0 100; gray s2 102; gray s3 103; gray s5 105; } >b-maps.pam
	stream-join --order in.pam b-maps.pam a-maps.pam >out.pam
	run ids out.pam
	assert_output "s0 s1 s2 s3 s4 s5"
	{ for i in 0 1 2 3 4 5; do gray "s$i" $((100 + i)); done; } | cmp - out.pam
	# empty everything
	stream-join --order /dev/null <(:) >out.pam
	[[ ! -s out.pam ]]
}

@test "--order: a missing, left-over or misplaced image, or no id: one line, nothing written" {
	stream 6 >"$TMP/in.pam"
	cd "$TMP"
	printf 's1\ns4\n' >a.txt
	printf 's0\ns2\ns3\ns5\n' >b.txt
	stream-shard --ids a.txt in.pam >a.pam
	stream-shard --ids b.txt in.pam >b.pam
	{ gray s4 4; gray s1 1; } >a-reversed.pam
	{ gray s1 1; gray - 4; } >a-noid.pam
	echo keep >out.pam
	local args
	for args in "in.pam b.pam" "in.pam a.pam b.pam a.pam" \
		"in.pam a-reversed.pam b.pam" "in.pam a-noid.pam b.pam" \
		"a.pam a.pam b.pam"; do
		run bash -c "stream-join --order $args 2>err >stdout"
		assert_failure 1
		run cat err
		assert_one_error_line stream-join
		[[ ! -s stdout ]] || fail "stream-join --order $args wrote to stdout"
		run stream-join --output out.pam --order $args
		assert_failure 1
		[[ $(cat out.pam) == keep ]]
	done
	run stream-join --order in.pam b.pam
	assert_output "stream-join: in.pam: image 2: id 's1' is the next image of no shard"
	run stream-join --order in.pam a.pam b.pam a.pam
	assert_output "stream-join: a.pam: image 1: id 's1' is left over (not in in.pam, or out of its order)"
	run stream-join --order in.pam a-noid.pam b.pam
	assert_output "stream-join: a-noid.pam: image 2: no id (--order joins by id)"
	# from a pipe: found on the way, after whole images
	run bash -c "stream-join --order in.pam <(cat a-reversed.pam) b.pam 2>err >stdout"
	assert_failure 1
	run cat err
	assert_output "stream-join: in.pam: image 2: id 's1' is the next image of no shard"
	gray s0 0 | cmp - stdout
	run bash -c "stream-join --order - - <in.pam"
	assert_failure 2
}

@test "stream-join --output: written when the join succeeds; outputs that are inputs refused" {
	stream 5 >"$TMP/in.pam"
	cp "$TMP/in.pam" "$TMP/saved.pam"
	stream-shard -n 2 -o "$TMP/s%d.pam" "$TMP/in.pam"
	cp "$TMP/s0.pam" "$TMP/s0-saved.pam"
	stream-join -o "$TMP/out.pam" "$TMP/s0.pam" "$TMP/s1.pam"
	cmp "$TMP/out.pam" "$TMP/in.pam"
	run stream-join --output "$TMP/s0.pam" "$TMP/s0.pam" "$TMP/s1.pam"
	assert_failure 1
	assert_one_error_line stream-join
	cmp "$TMP/s0.pam" "$TMP/s0-saved.pam"
	run bash -c "stream-join '$TMP/s0.pam' '$TMP/s1.pam' >>'$TMP/s0.pam'"
	assert_failure 1
	assert_one_error_line stream-join
	cmp "$TMP/s0.pam" "$TMP/s0-saved.pam"
	run bash -c "stream-shard -n 2 -k 0 '$TMP/in.pam' >>'$TMP/in.pam'"
	assert_failure 1
	assert_one_error_line stream-shard
	cmp "$TMP/in.pam" "$TMP/saved.pam"
	mkfifo "$TMP/fifo"
	run stream-join --output "$TMP/fifo" "$TMP/s0.pam" "$TMP/s1.pam"
	assert_failure 1
	assert_one_error_line stream-join
	[[ -p $TMP/fifo ]]
}

@test "> /dev/full and a closed stdout: one line, exit 1" {
	stream 3 >"$TMP/in.pam"
	run bash -c "stream-shard -n 1 -k 0 '$TMP/in.pam' >/dev/full"
	assert_failure 1
	assert_one_error_line stream-shard
	assert_output --partial "write error"
	run bash -c "stream-join '$TMP/in.pam' >/dev/full"
	assert_failure 1
	assert_one_error_line stream-join
	assert_output --partial "write error"
	run bash -c "exec 1>&-; stream-join '$TMP/in.pam'"
	assert_failure 1
	assert_one_error_line stream-join
	# with --output, stdout is none of theirs
	run bash -c "exec 1>&-; stream-join --output '$TMP/out.pam' '$TMP/in.pam'"
	assert_success
	cmp "$TMP/out.pam" "$TMP/in.pam"
	run bash -c "exec 1>&-; stream-shard -n 1 -o '$TMP/s%d.pam' '$TMP/in.pam'"
	assert_success
	cmp "$TMP/s0.pam" "$TMP/in.pam"
}

@test "unet-infer on 2 and 3 workers, joined: the bytes of one run" {
	local n k t files
	for t in 1 2; do
		unet-infer --quiet --threads "$t" "$MODEL" "$IMAGES" >"$TMP/one.pam"
		run pamfile -allimages "$TMP/one.pam"
		assert_equal "$(grep -c 'Image [0-9]' <<<"$output")" 9
		for n in 2 3; do
			files=()
			for ((k = 0; k < n; k++)); do
				stream-shard -n "$n" -k "$k" "$IMAGES" |
					unet-infer --quiet --threads "$t" "$MODEL" >"$TMP/p$k.pam" &
				files+=("$TMP/p$k.pam")
			done
			wait
			stream-join "${files[@]}" | cmp - "$TMP/one.pam"
		done
	done
	# the ids of the maps are the images', in the input's order
	assert_equal "$(ids "$TMP/one.pam")" "$(ids "$IMAGES")"
	# batches group other images on each worker: the same bytes
	stream-join <(stream-shard -n 2 -k 0 "$IMAGES" |
		unet-infer --quiet --threads 2 --batch 4 "$MODEL") \
		<(stream-shard -n 2 -k 1 "$IMAGES" |
			unet-infer --quiet --threads 2 --batch 3 "$MODEL") |
		cmp - "$TMP/one.pam"
}

# ------------------------------------------------------------ the recipes

# workers_block N: the Nth literal block (from 1) of unetpipe(7), MANY
# WORKERS, as a shell script.
workers_block() {
	awk -v want="$1" '
	/^\.Sh / { in_s = ($0 == ".Sh MANY WORKERS"); next }
	in_s && /^\.Bd -literal/ { n++; lit = (n == want); next }
	in_s && /^\.Ed/ { lit = 0; next }
	lit { gsub(/\\e/, "\\"); gsub(/\\-/, "-"); print }
	' "$ROOT/man/unetpipe.7"
}

# A folder with what the recipes name: images.pam, nuclei.safetensors,
# the sample data and a sweep report.
recipe_folder() {
	mkdir -p "$TMP/w"
	cd "$TMP/w"
	ln -s "$DATA" data
	cp "$IMAGES" images.pam
	cp "$MODEL" nuclei.safetensors
	unet-infer --quiet --threads 1 nuclei.safetensors "$FIXTURES/train-16.pam" |
		threshold-sweep --truth "$FIXTURES/train-16.pam" >sweep.json
	unet-infer --quiet --threads 1 nuclei.safetensors images.pam >one.pam
}

# local_parallel: GNU parallel's --sshlogin hosts replaced by this one.
local_parallel() {
	sed 's#--sshlogin [^ ]*#--sshlogin :#'
}

need_parallel() {
	command -v parallel >/dev/null ||
		skip "GNU parallel is not installed (Debian package parallel)"
}

@test "recipe: two workers on one machine as background jobs" {
	recipe_folder
	workers_block 1 >recipe.sh
	grep -q 'stream-shard --shards 2 --index' recipe.sh
	bash -eu recipe.sh
	cmp probs.pam one.pam
	[[ ! -e probs-0.part && ! -e probs-1.part ]]
}

@test "recipe: GNU parallel on the hosts of --sshlogin (here the local one)" {
	need_parallel
	recipe_folder
	workers_block 2 | local_parallel >recipe.sh
	grep -q -- '--sshlogin :' recipe.sh
	bash -eu recipe.sh
	cmp probs.pam one.pam
	# a worker that fails: parallel fails, no shard for the join
	rm probs-*.pam
	head -c 300 shard-2.pam >cut && mv cut shard-2.pam
	sed -i '/^stream-shard /d' recipe.sh
	run bash -eu recipe.sh
	assert_failure
	[[ ! -e probs-2.pam ]]
}

@test "recipe: a Slurm job array and the join after it" {
	recipe_folder
	workers_block 3 >infer.sbatch
	workers_block 4 >join.sbatch
	workers_block 5 >submit.sh
	# sbatch stand-in: the array's tasks one after the other, with the
	# variables Slurm sets, then the job; --parsable prints a job id
	mkdir bin
	cat >bin/sbatch <<-'SH'
		#!/bin/bash
		set -eu
		parsable=0
		for a; do
			case $a in
			--parsable) parsable=1 ;;
			--dependency=afterok:4242) ;;
			-*) echo "sbatch: unexpected $a" >&2; exit 1 ;;
			*) script=$a ;;
			esac
		done
		range=$(sed -n 's/^#SBATCH --array=//p' "$script")
		cpus=$(sed -n 's/^#SBATCH --cpus-per-task=//p' "$script")
		if [[ -n $range ]]; then
			for ((i = ${range%-*}; i <= ${range#*-}; i++)); do
				SLURM_ARRAY_TASK_ID=$i SLURM_CPUS_PER_TASK=$cpus \
				SLURM_ARRAY_TASK_COUNT=$((${range#*-} - ${range%-*} + 1)) \
					bash "$script"
			done
		else
			bash "$script"
		fi
		((!parsable)) || echo 4242
	SH
	chmod +x bin/sbatch
	PATH=$PWD/bin:$PATH bash -eu submit.sh
	cmp probs.pam one.pam
	[[ -s probs-3.pam && ! -e probs-0.part ]]
}

@test "recipe: unetpipe-apply on two workers writes what one run writes" {
	recipe_folder
	workers_block 6 >recipe.sh
	bash -eu recipe.sh
	unetpipe-apply --threads 1 --threshold-from sweep.json nuclei.safetensors \
		single data/stage1_train/*/images/*.png >/dev/null
	run ls masks
	assert_equal "${#lines[@]}" "$(ls data/stage1_train | wc -l)"
	diff <(ls masks) <(ls single)
	for f in single/*.png; do cmp "$f" "masks/${f#single/}"; done
	assert_equal "$(cat written-0.txt written-1.txt | wc -l)" "${#lines[@]}"
}

@test "recipe: unetpipe-apply under GNU parallel -m" {
	need_parallel
	recipe_folder
	workers_block 7 | local_parallel >recipe.sh
	bash -eu recipe.sh >written.txt
	unetpipe-apply --threads 1 --threshold-from sweep.json nuclei.safetensors \
		single data/stage1_train/*/images/*.png >/dev/null
	diff <(ls masks) <(ls single)
	for f in single/*.png; do cmp "$f" "masks/${f#single/}"; done
	assert_equal "$(wc -l <written.txt)" "$(ls data/stage1_train | wc -l)"
}

@test "stream-shard(1) and stream-join(1) EXAMPLES run" {
	recipe_folder
	cp "$FIXTURES/train-16.pam" all.pam
	cp all.pam val.pam
	cp nuclei.safetensors gray.safetensors
	grep -a '^#id ' all.pam | head -2 | cut -c5- >fluorescence.txt
	for page in stream-shard.1 stream-join.1; do
		"$ROOT/tests/man-examples" "$ROOT/man/$page" >examples.sh
		run timeout 300 bash -euo pipefail examples.sh
		assert_success
	done
	cmp probs.pam <(unet-infer --quiet --threads 1 nuclei.safetensors images.pam)
	[[ -s shard-3.pam && -s sweep.json ]]
	assert_equal "$(grep -ac '^#id ' fluorescence.pam)" 2
	cmp maps.pam <(unet-infer --threads 1 nuclei.safetensors all.pam)
	# the maps of the two models, joined by id: those of one run
	cmp all-probs.pam <(unet-infer nuclei.safetensors all.pam)
}
