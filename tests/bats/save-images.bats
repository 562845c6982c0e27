#!/usr/bin/env bats
# save-images: each image of a stream to DIR/ID.png or .pam.

load helpers
source "$FIXTURES/score-pam.bash"

# raster FILE N: the last N bytes of FILE as decimal numbers on one line.
raster() {
	tail -c "$2" "$1" | od -An -tu1 -v | tr -s ' \n' ' ' | sed 's/^ //; s/ $//'
}

@test "PNG files hold the pixels of the images, named by id, names printed" {
	mkdir "$TMP/out"
	{
		pam 3 2 255 GRAYSCALE id=g 0 1 127 128 254 255
		pam 2 1 255 RGB id=c 255 0 0 1 2 3
	} >"$TMP/in.pam"
	run save-images --dir "$TMP/out" "$TMP/in.pam"
	assert_success
	assert_output "$TMP/out/g.png"$'\n'"$TMP/out/c.png"
	run ls "$TMP/out"
	assert_output $'c.png\ng.png'
	# Decoded by Netpbm, the PNG files equal the images converted by Netpbm.
	pamsplit "$TMP/in.pam" "$TMP/in-%d.pam"
	pamtopnm "$TMP/in-0.pam" >"$TMP/want"
	pngtopam "$TMP/out/g.png" | cmp - "$TMP/want"
	pamtopnm "$TMP/in-1.pam" >"$TMP/want"
	pngtopam "$TMP/out/c.png" | cmp - "$TMP/want"
	run raster "$TMP/want" 6
	assert_output "255 0 0 1 2 3"
	run file -b "$TMP/out/g.png"
	assert_output --partial "8-bit grayscale"
}

@test "16-bit input: a 16-bit PNG with every value exact" {
	mkdir "$TMP/out"
	pam 3 2 65535 GRAYSCALE id=p 0 1 32767 32768 65534 65535 >"$TMP/in.pam"
	save-images --dir "$TMP/out" <"$TMP/in.pam"
	run file -b "$TMP/out/p.png"
	assert_output --partial "16-bit grayscale"
	pngtopam "$TMP/out/p.png" >"$TMP/got"
	run head -c 13 "$TMP/got"
	assert_output $'P5\n3 2\n65535'
	run raster "$TMP/got" 12
	assert_output "0 0 0 1 127 255 128 0 255 254 255 255"
	pamtopnm "$TMP/in.pam" | cmp - "$TMP/got"
	# numpy reads the same values back from pngtopam.
	run "$REFPY" -c '
import sys, numpy as np
d = open(sys.argv[1], "rb").read()
print(list(np.frombuffer(d[-12:], ">u2")))' "$TMP/got"
	assert_output "[0, 1, 32767, 32768, 65534, 65535]"
}

@test "other maxvals are rescaled: 1 to 0/255, 1000 to 16 bits" {
	mkdir "$TMP/out"
	{
		pam 2 1 1 GRAYSCALE id=m 0 1
		pam 3 1 1000 GRAYSCALE id=k 0 500 1000
		pam 2 1 100 RGB id=r 0 50 100 1 2 3
	} | save-images --dir "$TMP/out"
	run raster <(pngtopam "$TMP/out/m.png") 2
	assert_output "0 255"
	run raster <(pngtopam "$TMP/out/k.png") 6
	assert_output "0 0 128 0 255 255"
	# 50 * 255 / 100 = 127.5 rounds to 128; 1 -> 2.55 -> 3, 3 -> 7.65 -> 8
	run raster <(pngtopam "$TMP/out/r.png") 6
	assert_output "0 128 255 3 5 8"
}

@test "samples with a mask: the mask becomes the alpha channel" {
	mkdir "$TMP/out"
	{
		pam 2 1 255 GRAYSCALE_MASK id=g 10 0 20 255
		pam 2 1 255 RGB_MASK id=c 1 2 3 255 4 5 6 0
	} | save-images --dir "$TMP/out"
	run file -b "$TMP/out/g.png"
	assert_output --partial "gray+alpha"
	run file -b "$TMP/out/c.png"
	assert_output --partial "RGBA"
	run bash -c 'pngtopam -alphapam "$1" | grep -a TUPLTYPE' _ "$TMP/out/g.png"
	assert_output "TUPLTYPE GRAYSCALE_ALPHA"
	run raster <(pngtopam -alphapam "$TMP/out/g.png") 4
	assert_output "10 0 20 255"
	run raster <(pngtopam -alphapam "$TMP/out/c.png") 8
	assert_output "1 2 3 255 4 5 6 0"
}

@test "issue 14: a LABEL image is a 16-bit grey PNG whose values are the labels" {
	mkdir "$TMP/out"
	{
		pam 3 1 65535 LABEL id=l 0 1 300
		pam 3 1 255 LABEL id=m 0 2 255
	} >"$TMP/in.pam"
	run save-images --dir "$TMP/out" "$TMP/in.pam"
	assert_success
	assert_output "$TMP/out/l.png"$'\n'"$TMP/out/m.png"
	for f in l m; do
		run file -b "$TMP/out/$f.png"
		assert_output --partial "16-bit grayscale"
	done
	# the values as they are, never rescaled: 300 stays 300 (01 2c), a
	# maxval 255 label image keeps 2 and 255
	run raster <(pngtopam "$TMP/out/l.png") 6
	assert_output "0 0 0 1 1 44"
	run raster <(pngtopam "$TMP/out/m.png") 6
	assert_output "0 0 0 2 0 255"
	# --format pam keeps the LABEL image, its id and its values
	save-images --dir "$TMP/out" --format pam "$TMP/in.pam" >/dev/null
	run grep -a -c -e '^TUPLTYPE LABEL$' -e '^#id l$' -e '^MAXVAL 65535$' "$TMP/out/l.pam"
	assert_output 3
	run raster "$TMP/out/l.pam" 6
	assert_output "0 0 0 1 1 44"
	run raster "$TMP/out/m.pam" 3
	assert_output "0 2 255"
}

@test "issue 14: a multi-output map: one 16-bit PNG per output, ID.png the foreground, ID-NAME.png the others" {
	mkdir "$TMP/out"
	{
		pam 2 1 65535 FOREGROUND_DISTANCE id=a 1000 2000 300 65535
		pam 1 1 65535 FOREGROUND_BORDER_DISTANCE id=b 1 2 3
	} >"$TMP/in.pam"
	run save-images --dir "$TMP/out" --suffix -prob "$TMP/in.pam"
	assert_success
	assert_output "$(printf '%s\n' "$TMP"/out/{a-prob,a-prob-distance,b-prob,b-prob-border,b-prob-distance}.png)"
	run file -b "$TMP/out/a-prob-distance.png"
	assert_output --partial "16-bit grayscale"
	run raster <(pngtopam "$TMP/out/a-prob.png") 4
	assert_output "3 232 1 44"
	run raster <(pngtopam "$TMP/out/a-prob-distance.png") 4
	assert_output "7 208 255 255"
	run raster <(pngtopam "$TMP/out/b-prob-border.png") 2
	assert_output "0 2"
	# an id whose output name another image has: refused before it is
	# written
	pam 1 1 65535 GRAYSCALE id=a-distance 5 >"$TMP/clash.pam"
	run bash -c 'cat "$1" "$2" | save-images --dir "$3" --overwrite' _ \
		"$TMP/in.pam" "$TMP/clash.pam" "$TMP/out"
	assert_failure 1
	assert_line "save-images: stdin: image 3: $TMP/out/a-distance.png already written for image 1"
}

@test "issue 14: a *_LABEL sample: ID.png its image, ID-labels.png its 16-bit labels" {
	mkdir "$TMP/out"
	{
		pam 2 1 255 RGB_LABEL id=s 1 2 3 4 5 6 7 9
		pam 2 1 65535 GRAYSCALE_LABEL id=g 1000 0 2000 300
	} >"$TMP/in.pam"
	run save-images --dir "$TMP/out" --suffix _x "$TMP/in.pam"
	assert_success
	assert_output "$(printf '%s\n' "$TMP"/out/{s_x,s_x-labels,g_x,g_x-labels}.png)"
	run ls -A "$TMP/out"
	assert_output $'g_x-labels.png\ng_x.png\ns_x-labels.png\ns_x.png'
	run file -b "$TMP/out/s_x.png"
	assert_output --partial "8-bit/color RGB,"
	run raster <(pngtopam "$TMP/out/s_x.png") 6
	assert_output "1 2 3 5 6 7"
	run file -b "$TMP/out/s_x-labels.png"
	assert_output --partial "16-bit grayscale"
	run raster <(pngtopam "$TMP/out/s_x-labels.png") 4
	assert_output "0 4 0 9"
	run raster <(pngtopam "$TMP/out/g_x.png") 4
	assert_output "3 232 7 208"
	run raster <(pngtopam "$TMP/out/g_x-labels.png") 4
	assert_output "0 0 1 44"
	# --format pam: the sample whole, one file
	mkdir "$TMP/pam"
	save-images --dir "$TMP/pam" --format pam "$TMP/in.pam" >/dev/null
	run ls -A "$TMP/pam"
	assert_output $'g.pam\ns.pam'
	run grep -a -c -e '^TUPLTYPE RGB_LABEL$' -e '^DEPTH 4$' "$TMP/pam/s.pam"
	assert_output 2
	run raster "$TMP/pam/s.pam" 8
	assert_output "1 2 3 4 5 6 7 9"
}

@test "issue 14: a label PNG read back by ingest-resize gives the same sample" {
	mkdir "$TMP/out" "$TMP/labels"
	pam 3 1 65535 GRAYSCALE_LABEL id=r 257 0 514 300 771 2 >"$TMP/in.pam"
	save-images --dir "$TMP/out" "$TMP/in.pam" >/dev/null
	mv "$TMP/out/r-labels.png" "$TMP/labels/r.png"
	ingest-resize --channels 1 --masks "$TMP/labels" "$TMP/out/r.png" >"$TMP/again.pam"
	run raster "$TMP/again.pam" 12
	assert_output "1 1 0 0 2 2 1 44 3 3 0 2"
	run bash -c 'pamfile "$1"' _ "$TMP/again.pam"
	assert_output --partial "GRAYSCALE_LABEL"
}

@test "issue 14: the man page's label PNGs of a data set" {
	cd "$TMP"
	mkdir out
	ingest-resize "$DATA/stage1_train" | save-images --dir out >list
	assert_equal "$(wc -l <list)" 48
	assert_equal "$(ls out | grep -c -- '-labels\.png$')" 24
	id=16c3d5935ba94b720becc24b7a05741c26149e221e3401924080f41e2f891368
	run file -b out/$id-labels.png
	assert_output --partial "16-bit grayscale"
	# the labels PNG holds 0 and the labels 1..11 (11 nuclei), the image
	# PNG the data set's own pixels
	run bash -c 'pngtopam "$1" | tail -c $((256 * 256 * 2)) | od -An -tu2 --endian=big -v | tr -s " " "\n" | grep . | sort -un | tr "\n" " "' _ out/$id-labels.png
	assert_output "0 1 2 3 4 5 6 7 8 9 10 11 "
	pngtopam out/$id.png | cmp - <(pngtopam "$DATA/stage1_train/$id/images/$id.png")
}

@test "issue 14: the labels file's name is taken like any name, both checked before either is written" {
	mkdir "$TMP/out"
	{
		pam 1 1 255 RGB_LABEL id=a 1 2 3 4
		pam 1 1 255 GRAYSCALE id=a-labels 5
	} >"$TMP/in.pam"
	run bash -c 'save-images --dir "$1" "$2" >"$3"' _ "$TMP/out" "$TMP/in.pam" "$TMP/list"
	assert_failure 1
	assert_one_error_line save-images
	assert_output "save-images: $TMP/in.pam: image 2: $TMP/out/a-labels.png already written for image 1"
	run cat "$TMP/list"
	assert_output "$TMP/out/a.png"$'\n'"$TMP/out/a-labels.png"
	# an existing labels file stops the sample before its image is written
	rm "$TMP/out/a.png"
	echo old >"$TMP/keep"
	cp "$TMP/keep" "$TMP/out/a-labels.png"
	pam 1 1 255 RGB_LABEL id=a 1 2 3 4 >"$TMP/in.pam"
	run save-images --dir "$TMP/out" "$TMP/in.pam"
	assert_failure 1
	assert_one_error_line save-images
	assert_output "save-images: $TMP/out/a-labels.png: exists (--overwrite replaces it)"
	run ls -A "$TMP/out"
	assert_output "a-labels.png"
	cmp "$TMP/keep" "$TMP/out/a-labels.png"
}

@test "an image without an id is named by its index; --suffix" {
	mkdir "$TMP/out"
	{
		pam 1 1 255 GRAYSCALE id=a 1
		pam 1 1 255 GRAYSCALE 2
		pam 1 1 255 GRAYSCALE id=c 3
	} >"$TMP/in.pam"
	run save-images --dir "$TMP/out/" --suffix _mask "$TMP/in.pam"
	assert_success
	assert_output "$TMP/out/a_mask.png"$'\n'"$TMP/out/2_mask.png"$'\n'"$TMP/out/c_mask.png"
	run ls -A "$TMP/out"
	assert_output $'2_mask.png\na_mask.png\nc_mask.png'
	run raster <(pngtopam "$TMP/out/2_mask.png") 1
	assert_output 2
}

@test "--format pam: files byte-identical to the images, comments kept" {
	mkdir "$TMP/out"
	in="$FIXTURES/train-16.pam"
	save-images --dir "$TMP/out" --format pam "$in" >"$TMP/list"
	run wc -l <"$TMP/list"
	assert_output "$(pamfile -allimages "$in" | grep -c Image)"
	xargs -d '\n' cat <"$TMP/list" | cmp - "$in"
	first=$(head -n 1 "$TMP/list")
	run grep -a -c '^#id ' "$first"
	assert_output 1
	# A stream of 16-bit probability maps with an original size.
	{
		printf 'P7\n#id p\n#original-size 9x9\nWIDTH 1\nHEIGHT 1\nDEPTH 1\n'
		printf 'MAXVAL 65535\nTUPLTYPE GRAYSCALE\nENDHDR\n\x12\x34'
	} >"$TMP/p.pam"
	save-images --dir "$TMP/out" --format pam "$TMP/p.pam"
	cmp "$TMP/out/p.pam" "$TMP/p.pam"
}

@test "--overwrite: the files replace older ones and get the umask's permissions" {
	mkdir "$TMP/out"
	echo old >"$TMP/out/a.png"
	ln -s nowhere "$TMP/out/b.png"
	{
		pam 1 1 255 GRAYSCALE id=a 7
		pam 1 1 255 GRAYSCALE id=b 8
	} >"$TMP/in.pam"
	(umask 027 && save-images --overwrite --dir "$TMP/out" "$TMP/in.pam")
	run raster <(pngtopam "$TMP/out/a.png") 1
	assert_output 7
	run stat -c %a "$TMP/out/a.png"
	assert_output 640
	# A symbolic link is replaced by the file, its target not created.
	[[ -f $TMP/out/b.png && ! -L $TMP/out/b.png && ! -e $TMP/out/nowhere ]]
	run raster <(pngtopam "$TMP/out/b.png") 1
	assert_output 8
	run ls -A "$TMP/out"
	assert_output $'a.png\nb.png'
}

@test "an existing file is refused without --overwrite: one line, the file intact, the images before it saved" {
	mkdir "$TMP/out"
	echo user >"$TMP/out/b.png"
	cp "$TMP/out/b.png" "$TMP/b.keep"
	{
		pam 1 1 255 GRAYSCALE id=a 1
		pam 1 1 255 GRAYSCALE id=b 2
		pam 1 1 255 GRAYSCALE id=c 3
	} >"$TMP/in.pam"
	for fmt in png pam; do
		[[ $fmt == pam ]] && { rm "$TMP"/out/*.png; cp "$TMP/b.keep" "$TMP/out/b.pam"; }
		run bash -c 'save-images --dir "$1" --format "$2" "$3" >"$4"' \
			_ "$TMP/out" "$fmt" "$TMP/in.pam" "$TMP/list"
		assert_failure 1
		assert_one_error_line save-images
		assert_output "save-images: $TMP/out/b.$fmt: exists (--overwrite replaces it)"
		cmp "$TMP/out/b.$fmt" "$TMP/b.keep"
		run cat "$TMP/list"
		assert_output "$TMP/out/a.$fmt"
		run ls -A "$TMP/out"
		assert_output $'a.'$fmt$'\nb.'$fmt
	done
	# A dangling symbolic link is a name taken too.
	rm "$TMP"/out/*
	ln -s nowhere "$TMP/out/a.png"
	run save-images --dir "$TMP/out" "$TMP/in.pam"
	assert_failure 1
	assert_output "save-images: $TMP/out/a.png: exists (--overwrite replaces it)"
	[[ -L $TMP/out/a.png && ! -e $TMP/out/nowhere ]]
}

@test "issue 11: masks of imgs/a.png saved into imgs are refused, imgs/a.png intact" {
	mkdir "$TMP/imgs"
	pgmnoise -randomseed=1 12 9 | pnmtopng >"$TMP/imgs/a.png"
	cp "$TMP/imgs/a.png" "$TMP/a.keep"
	run bash -c 'ingest-resize "$1/a.png" | save-images --dir "$1"' _ "$TMP/imgs"
	assert_failure 1
	assert_one_error_line save-images
	assert_output "save-images: $TMP/imgs/a.png: exists (--overwrite replaces it)"
	cmp "$TMP/imgs/a.png" "$TMP/a.keep"
	run ls -A "$TMP/imgs"
	assert_output a.png
}

@test "the input FILE is never replaced, even with --overwrite: by name, link or stdin" {
	mkdir "$TMP/imgs" "$TMP/other"
	pam 2 1 255 GRAYSCALE id=a 1 2 >"$TMP/imgs/a.pam"
	cp "$TMP/imgs/a.pam" "$TMP/a.keep"
	ln "$TMP/imgs/a.pam" "$TMP/other/hard.pam"
	ln -s ../imgs/a.pam "$TMP/other/a.pam"
	for args in "--dir $TMP/imgs $TMP/imgs/a.pam" \
		"--dir $TMP/imgs/. $TMP/imgs/../imgs/a.pam" \
		"--dir $TMP/imgs $TMP/other/hard.pam" \
		"--dir $TMP/other $TMP/imgs/a.pam"; do
		run save-images --overwrite --format pam $args
		assert_failure 1
		assert_one_error_line save-images
		assert_output --regexp "^save-images: $TMP/(imgs|imgs/.|other)/a.pam: is also an input"
		cmp "$TMP/imgs/a.pam" "$TMP/a.keep"
	done
	run bash -c 'save-images --overwrite --format pam --dir "$1" <"$1/a.pam"' _ "$TMP/imgs"
	assert_failure 1
	assert_one_error_line save-images
	assert_output "save-images: $TMP/imgs/a.pam: is also an input (an output never replaces an input)"
	cmp "$TMP/imgs/a.pam" "$TMP/a.keep"
	[[ -L $TMP/other/a.pam ]]
	run ls -A "$TMP/imgs" "$TMP/other"
	assert_output "$TMP/imgs:"$'\na.pam\n\n'"$TMP/other:"$'\na.pam\nhard.pam'
}

@test "killed by SIGTERM: no temporary file left, the files before it whole" {
	mkdir "$TMP/out"
	# Ten 600x600 images of noise: each takes a while to compress.
	for i in 1 2 3 4 5 6 7 8 9 10; do
		printf 'P7\n#id img%d\nWIDTH 600\nHEIGHT 600\nDEPTH 3\nMAXVAL 255\nTUPLTYPE RGB\nENDHDR\n' "$i"
		head -c 1080000 /dev/urandom
	done >"$TMP/noise.pam"
	# Killed while writing an image: wait until its temporary file is there.
	save-images --dir "$TMP/out" "$TMP/noise.pam" >/dev/null 2>&1 3>&- &
	pid=$!
	for ((n = 0; n < 2000; n++)); do
		compgen -G "$TMP/out/*.png.??????" >/dev/null && break
		sleep 0.005
	done
	kill -TERM "$pid"
	wait "$pid" && status=0 || status=$?
	((n < 2000)) || fail "no temporary file seen"
	assert_equal "$status" 143
	run bash -c 'ls -A "$1" | grep -v "^img[0-9]*\.png$"' _ "$TMP/out"
	assert_output ""
	for f in "$TMP"/out/*.png; do
		[[ ! -e $f ]] || pngtopam "$f" >/dev/null
	done
	# Killed while waiting for the next image of a stream.
	rm -f "$TMP"/out/*
	mkfifo "$TMP/fifo"
	save-images --dir "$TMP/out" <"$TMP/fifo" >"$TMP/list" 2>&1 3>&- &
	pid=$!
	exec 4>"$TMP/fifo"
	pam 2 1 255 GRAYSCALE id=a 5 6 >&4
	for ((n = 0; n < 2000; n++)); do
		[[ -s $TMP/out/a.png ]] && break
		sleep 0.005
	done
	kill -TERM "$pid"
	wait "$pid" && status=0 || status=$?
	exec 4>&-
	assert_equal "$status" 143
	run ls -A "$TMP/out"
	assert_output a.png
	run raster <(pngtopam "$TMP/out/a.png") 2
	assert_output "5 6"
}

# idpam ID VALUE: a 1x1 GRAYSCALE image whose id comment is ID, byte for
# byte (a tab or a carriage return included, as a foreign writer may
# leave them).
idpam() {
	printf 'P7\n#id %s\nWIDTH 1\nHEIGHT 1\nDEPTH 1\nMAXVAL 255\nTUPLTYPE GRAYSCALE\nENDHDR\n' "$1"
	printf "\\x$(printf %02x "$2")"
}

@test "issue 12: every id names a file: as it is when it can, else the documented replacement" {
	mkdir "$TMP/out"
	{
		idpam 'DAPI well A1 (z3)' 1
		idpam 'µm' 2
		idpam '-x' 3
		idpam '.hidden' 4
		idpam "it's \$HOME *?" 5
		idpam '../x' 6
		idpam 'a/b' 7
		idpam $'t\tab' 8
		idpam '..' 9
		idpam '.' 10
		pam 1 1 255 GRAYSCALE 11
	} >"$TMP/in.pam"
	run save-images --dir "$TMP/out" "$TMP/in.pam"
	assert_success
	want=('DAPI well A1 (z3)' 'µm' -x .hidden "it's \$HOME *?" .._x a_b t_ab image-9 image-10 11)
	assert_output "$(printf "$TMP/out/%s.png\n" "${want[@]}")"
	run ls -A "$TMP/out"
	assert_output "$(printf '%s.png\n' "${want[@]}" | LC_ALL=C sort)"
	# each file holds its own image
	for i in "${!want[@]}"; do
		run raster <(pngtopam "$TMP/out/${want[i]}.png") 1
		assert_output "$((i + 1))"
	done
	[[ ! -e $TMP/x.png ]]
}

@test "issue 12: a long id is cut at a UTF-8 character so that every file of the image fits 248 bytes" {
	mkdir "$TMP/out"
	# 123 x 'µ' (2 bytes) and 'z': 247 bytes, the longest id a stream carries
	id=$(printf 'µ%.0s' {1..123})z
	{
		pam 1 1 255 RGB_LABEL id="$id" 1 2 3 4
		idpam "$id" 5
		idpam "$(printf 'µ%.0s' {1..120})" 6
	} >"$TMP/in.pam"
	run save-images --dir "$TMP/out" "$TMP/in.pam"
	assert_success
	# ID.png and ID-labels.png share one cut (248 - 11 = 237 bytes: 118
	# 'µ'); the grey image alone is cut to 244 bytes (122 'µ'); an id of
	# 240 bytes is kept whole.
	assert_equal "${lines[0]}" "$TMP/out/$(printf 'µ%.0s' {1..118}).png"
	assert_equal "${lines[1]}" "$TMP/out/$(printf 'µ%.0s' {1..118})-labels.png"
	assert_equal "${lines[2]}" "$TMP/out/$(printf 'µ%.0s' {1..122}).png"
	assert_equal "${lines[3]}" "$TMP/out/$(printf 'µ%.0s' {1..120}).png"
	assert_equal "${#lines[@]}" 4
	run raster <(pngtopam "$TMP/out/$(printf 'µ%.0s' {1..122}).png") 1
	assert_output 5
	# a --suffix takes its room from the id too
	rm "$TMP/out"/*
	idpam "$(printf 'µ%.0s' {1..120})" 7 | save-images --dir "$TMP/out" --suffix -prob >"$TMP/list"
	run cat "$TMP/list"
	assert_output "$TMP/out/$(printf 'µ%.0s' {1..119})-prob.png"
	run save-images --dir "$TMP/out" --suffix "$(printf 's%.0s' {1..201})" "$TMP/in.pam"
	assert_failure 2
	assert_line --index 0 "save-images: --suffix: longer than 200 bytes"
}

@test "issue 12: two ids of one file name: the second refused before it is written, the first intact" {
	mkdir "$TMP/out"
	{
		idpam 'a/b' 1
		idpam 'a_b' 2
	} >"$TMP/in.pam"
	run bash -c 'save-images --dir "$1" "$2" >"$3"' _ "$TMP/out" "$TMP/in.pam" "$TMP/list"
	assert_failure 1
	assert_one_error_line save-images
	assert_output "save-images: $TMP/in.pam: image 2: $TMP/out/a_b.png already written for image 1"
	run cat "$TMP/list"
	assert_output "$TMP/out/a_b.png"
	run ls -A "$TMP/out"
	assert_output a_b.png
	run raster <(pngtopam "$TMP/out/a_b.png") 1
	assert_output 1
	# a file of an earlier run is replaced (--overwrite), once
	run save-images --overwrite --dir "$TMP/out" <(idpam 'a/b' 3)
	assert_success
	run raster <(pngtopam "$TMP/out/a_b.png") 1
	assert_output 3
}

@test "two images of the same name: the second is refused, the first kept" {
	mkdir "$TMP/out"
	{
		pam 1 1 255 GRAYSCALE id=a 1
		pam 1 1 255 GRAYSCALE id=a 2
	} >"$TMP/in.pam"
	run bash -c 'save-images --dir "$1" "$2" >"$3"' _ "$TMP/out" "$TMP/in.pam" "$TMP/list"
	assert_failure 1
	assert_one_error_line save-images
	assert_output "save-images: $TMP/in.pam: image 2: $TMP/out/a.png already written for image 1"
	run cat "$TMP/list"
	assert_output "$TMP/out/a.png"
	run raster <(pngtopam "$TMP/out/a.png") 1
	assert_output 1
	# An id equal to the index of an image without an id.
	{
		pam 1 1 255 GRAYSCALE 1
		pam 1 1 255 GRAYSCALE id=1 2
	} >"$TMP/in.pam"
	run bash -c 'save-images --dir "$1" "$2" >/dev/null' _ "$TMP/out" "$TMP/in.pam"
	assert_failure 1
	assert_output --partial "image 2: $TMP/out/1.png already written for image 1"
}

@test "usage errors: exit 2" {
	run save-images </dev/null
	assert_failure 2
	assert_output --partial "--dir is required"
	run save-images --dir "$TMP" --format jpeg </dev/null
	assert_failure 2
	run save-images --dir "$TMP" --suffix a/b </dev/null
	assert_failure 2
	run save-images --dir "$TMP" a b
	assert_failure 2
	run save-images --dir "$TMP" --bogus </dev/null
	assert_failure 2
	run save-images --dir
	assert_failure 2
}

@test "--help and --version" {
	run save-images --help
	assert_success
	assert_line --index 0 --partial "usage: save-images --dir DIR"
	assert_output --partial "--suffix"
	assert_output --partial "--format"
	assert_output --partial "--overwrite"
	run save-images --version
	assert_success
	assert_output --regexp '^save-images unetpipe [0-9]'
}

@test "a missing --dir is made; one whose parent is missing or a file: exit 1, one line" {
	pam 2 1 255 GRAYSCALE id=a 1 2 | save-images --dir "$TMP/new"
	run raster <(pngtopam "$TMP/new/a.png") 2
	assert_output "1 2"
	run save-images --dir "$TMP/nope/deeper" </dev/null
	assert_failure 1
	assert_one_error_line save-images
	assert_output "save-images: $TMP/nope/deeper: No such file or directory"
	[ ! -e "$TMP/nope" ]
	touch "$TMP/file"
	run save-images --dir "$TMP/file" </dev/null
	assert_failure 1
	assert_one_error_line save-images
	assert_output --partial "not a folder"
}

@test "a stream that is not images: exit 1, one line" {
	mkdir "$TMP/out"
	echo hello >"$TMP/in.txt"
	run save-images --dir "$TMP/out" "$TMP/in.txt"
	assert_failure 1
	assert_one_error_line save-images
	run save-images --dir "$TMP/out" "$TMP/none.pam"
	assert_failure 1
	assert_one_error_line save-images
}

@test "empty input: no file, nothing printed, exit 0" {
	mkdir "$TMP/out"
	run save-images --dir "$TMP/out" </dev/null
	assert_success
	assert_output ""
	run ls -A "$TMP/out"
	assert_output ""
}

@test "truncated stream: earlier images saved, exit 1, no temporary file" {
	mkdir "$TMP/out"
	{
		pam 2 1 255 GRAYSCALE id=a 1 2
		pam 2 1 255 GRAYSCALE id=b 3 4 | head -c -1
	} >"$TMP/in.pam"
	for fmt in png tiff pam; do
		run bash -c 'save-images --dir "$1" --format "$2" "$3" >"$4"' \
			_ "$TMP/out" "$fmt" "$TMP/in.pam" "$TMP/list"
		assert_failure 1
		assert_one_error_line save-images
		assert_output --partial "in.pam: image 2: "
		run cat "$TMP/list"
		assert_output "$TMP/out/a.${fmt/tiff/tif}"
	done
	run ls -A "$TMP/out"
	assert_output $'a.pam\na.png\na.tif'
}

@test "a write error on a file: exit 1 naming it, no temporary file left" {
	mkdir "$TMP/out"
	"$REFPY" -c '
import sys, numpy as np
v = np.random.default_rng(1).integers(0, 65536, 64 * 64, dtype=np.uint16)
sys.stdout.buffer.write(b"P7\n#id big\nWIDTH 64\nHEIGHT 64\nDEPTH 1\nMAXVAL 65535\nTUPLTYPE GRAYSCALE\nENDHDR\n")
sys.stdout.buffer.write(v.astype(">u2").tobytes())' >"$TMP/in.pam"
	# Files of at most 4 KiB: an 8 KiB image cannot be written.
	for fmt in png tiff pam; do
		run bash -c 'trap "" XFSZ; ulimit -f 4; save-images --dir "$1" --format "$2" "$3"' \
			_ "$TMP/out" "$fmt" "$TMP/in.pam"
		assert_failure 1
		assert_one_error_line save-images
		assert_output "save-images: $TMP/out/big.${fmt/tiff/tif}: File too large"
	done
	run ls -A "$TMP/out"
	assert_output ""
}

@test "write error on stdout: exit 1, the files written" {
	mkdir "$TMP/out"
	pam 1 1 255 GRAYSCALE id=a 1 >"$TMP/in.pam"
	run bash -c 'save-images --dir "$1" "$2" >/dev/full' _ "$TMP/out" "$TMP/in.pam"
	assert_failure 1
	assert_one_error_line save-images
	assert_output --partial "write error"
	[[ -f $TMP/out/a.png ]]
}

@test "the man page's PAM round trip" {
	mkdir "$TMP/samples"
	cp "$FIXTURES/infer-sample.pam" "$TMP/all.pam"
	cd "$TMP"
	save-images --dir samples --format pam all.pam >list.txt
	xargs -d '\n' cat <list.txt >again.pam
	cmp all.pam again.pam
	run cat list.txt
	assert_output --regexp '^samples/[^/]+\.pam$'
}

@test "the man page's maps and masks side by side, with binarize" {
	{
		pam 2 1 65535 GRAYSCALE id=s1 65535 0
		pam 2 1 65535 GRAYSCALE id=s2 13107 40000
	} >"$TMP/probs.pam"
	echo '{"best": {"threshold": 0.1, "f1": 1}}' >"$TMP/sweep.json"
	cd "$TMP"
	mkdir -p out
	save-images --dir out --suffix _prob probs.pam >list
	binarize --threshold-from sweep.json probs.pam |
		save-images --dir out --suffix _mask >>list
	run cat list
	assert_output $'out/s1_prob.png\nout/s2_prob.png\nout/s1_mask.png\nout/s2_mask.png'
	run raster <(pngtopam out/s2_prob.png) 4
	assert_output "51 51 156 64"
	run raster <(pngtopam out/s2_mask.png) 2
	assert_output "255 255"
	run raster <(pngtopam out/s1_mask.png) 2
	assert_output "255 0"
}
