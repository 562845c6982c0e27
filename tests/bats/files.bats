#!/usr/bin/env bats
# Image files of every format read by ingest-resize (TIFF and JPEG besides
# PNG and Netpbm, told by their first bytes) and TIFF written by
# save-images (issue 12, "Files"). The files are made here with Netpbm
# (pamtotiff, pnmtojpeg, pnmtopng) and libtiff's tools (tiffcp, tiffset).

load helpers
source "$FIXTURES/score-pam.bash"

# The test images: g8.pgm, g16.pgm (12-bit values and 65535), rgb.ppm,
# rgb16.ppm, each also as PAM (ingest-resize's output for them).
make_images() {
	pam 3 2 255 GRAYSCALE 0 1 127 128 254 255 | pamtopnm >"$TMP/g8.pgm"
	pam 3 2 65535 GRAYSCALE 0 1 4095 2048 65534 65535 | pamtopnm >"$TMP/g16.pgm"
	pam 2 2 255 RGB 1 2 3 4 5 6 7 8 9 250 251 252 | pamtopnm >"$TMP/rgb.ppm"
	pam 2 1 65535 RGB 0 1 2 40000 50000 65535 | pamtopnm >"$TMP/rgb16.ppm"
}

@test "TIFF: 8- and 16-bit, gray and RGB, every sample equal to the Netpbm file's" {
	make_images
	mkdir "$TMP/tif"
	for f in g8.pgm g16.pgm rgb.ppm rgb16.ppm; do
		pamtotiff -truecolor "$TMP/$f" >"$TMP/tif/${f%.*}.tif"
		for c in 1 3; do
			ingest-resize -c $c "$TMP/$f" >"$TMP/want"
			ingest-resize -c $c "$TMP/tif/${f%.*}.tif" >"$TMP/got"
			cmp "$TMP/got" "$TMP/want"
		done
	done
	# The 16-bit values themselves, 12-bit ones included.
	run pam_dump "$TMP/got"
	ingest-resize -c 1 "$TMP/tif/g16.tif" >"$TMP/got"
	run pam_dump "$TMP/got"
	assert_output $'g16 3x2x1 65535 GRAYSCALE\n0 1 4095\n2048 65534 65535'
}

@test "TIFF: tiles, planes, compressions and 1-bit, as libtiff's tiffcp writes them" {
	make_images
	for f in rgb16 rgb; do
		pamtotiff -truecolor "$TMP/$f.ppm" >"$TMP/$f.tif" 2>/dev/null
		ingest-resize "$TMP/$f.ppm" >"$TMP/want"
		for o in "-t -w 16 -l 16" "-c zip" "-c lzw:2" "-c packbits" \
			"-p separate" "-p separate -t -w 16 -l 16 -c zip"; do
			# tiffcp makes separate planes of 8 bits only.
			[[ $f == rgb16 && $o == -p* ]] && continue
			mkdir "$TMP/d"
			tiffcp $o "$TMP/$f.tif" "$TMP/d/$f.tif"
			ingest-resize "$TMP/d/$f.tif" | cmp - "$TMP/want"
			rm -r "$TMP/d"
		done
	done
	# 1-bit: as the PBM file reads.
	printf 'P4\n10 2\n\xa5\x40\x00\xc0' >"$TMP/b.pbm"
	pamtotiff -g4 "$TMP/b.pbm" >"$TMP/b.tif"
	run tiffinfo "$TMP/b.tif"
	assert_output --partial "Bits/Sample: 1"
	ingest-resize -c 1 "$TMP/b.pbm" >"$TMP/want"
	ingest-resize -c 1 "$TMP/b.tif" | cmp - "$TMP/want"
	run pam_dump "$TMP/want"
	assert_line --index 1 "0 255 0 255 255 0 255 0 255 0"
}

@test "multi-page TIFF: each page an image, id NAME-K" {
	make_images
	for f in g8.pgm g16.pgm rgb.ppm; do
		pamtotiff -truecolor "$TMP/$f" >"$TMP/${f%.*}.tif"
	done
	tiffcp "$TMP/g8.tif" "$TMP/g16.tif" "$TMP/rgb.tif" "$TMP/stack.tif"
	ingest-resize "$TMP/stack.tif" >"$TMP/got"
	run grep -a '^#id' "$TMP/got"
	assert_output $'#id stack-1\n#id stack-2\n#id stack-3'
	ingest-resize "$TMP/g8.pgm" "$TMP/g16.pgm" "$TMP/rgb.ppm" | sed 's/^#id .*//' >"$TMP/want"
	sed 's/^#id .*//' "$TMP/got" | cmp - "$TMP/want"
	# A one-page TIFF keeps its name as id.
	run bash -c 'ingest-resize "$1" | grep -a "^#id"' _ "$TMP/g8.tif"
	assert_output "#id g8"
}

@test "JPEG: a flat gray image exact, RGB within the loss of the source" {
	pam 16 8 255 GRAYSCALE $(printf '90 %.0s' {1..128}) | pamtopnm >"$TMP/flat.pgm"
	pnmtojpeg "$TMP/flat.pgm" >"$TMP/flat.jpg"
	ingest-resize -c 1 "$TMP/flat.jpg" >"$TMP/got"
	ingest-resize -c 1 "$TMP/flat.pgm" | cmp - "$TMP/got"
	"$REFPY" -c '
import numpy as np, sys
x, y = np.meshgrid(np.arange(32), np.arange(16))
a = np.stack([x * 8, y * 16, np.full_like(x, 200)], -1).astype(np.uint8)
sys.stdout.buffer.write(b"P6\n32 16\n255\n" + a.tobytes())' >"$TMP/c.ppm"
	pnmtojpeg --quality 95 "$TMP/c.ppm" >"$TMP/c.jpg"
	ingest-resize "$TMP/c.jpg" >"$TMP/got"
	run "$REFPY" -c '
import numpy as np, sys
a = np.frombuffer(open(sys.argv[1], "rb").read()[-32 * 16 * 3:], np.uint8)
b = np.frombuffer(open(sys.argv[2], "rb").read()[-32 * 16 * 3:], np.uint8)
print(int(np.abs(a.astype(int) - b).max()) <= 12)' "$TMP/c.ppm" "$TMP/got"
	assert_output True
	run grep -a -c '^TUPLTYPE RGB$' "$TMP/got"
	assert_output 1
}

@test "issue 12: a TIFF and a JPEG among PNGs in one run: every image, in order" {
	make_images
	pnmtopng "$TMP/g8.pgm" >"$TMP/a.png"
	pamtotiff -truecolor "$TMP/rgb.ppm" >"$TMP/b.tif"
	pnmtojpeg "$TMP/rgb.ppm" >"$TMP/c.jpg"
	pnmtopng "$TMP/rgb.ppm" >"$TMP/d.png"
	ingest-resize "$TMP/a.png" "$TMP/b.tif" "$TMP/c.jpg" "$TMP/d.png" >"$TMP/got"
	run grep -a '^#id' "$TMP/got"
	assert_output $'#id a\n#id b\n#id c\n#id d'
	ingest-resize "$TMP/g8.pgm" "$TMP/rgb.ppm" | sed 's/^#id .*//' >"$TMP/want"
	ingest-resize "$TMP/a.png" "$TMP/b.tif" | sed 's/^#id .*//' | cmp - "$TMP/want"
}

@test "a 16-bit TIFF label image as --masks: the labels exact" {
	mkdir "$TMP/img" "$TMP/masks"
	pam 3 2 255 GRAYSCALE 9 9 9 9 9 9 | pamtopnm >"$TMP/img/a.pgm"
	pam 3 2 65535 GRAYSCALE 0 1 1 28 0 300 | pamtopnm >"$TMP/l.pgm"
	pamtotiff "$TMP/l.pgm" >"$TMP/masks/a.tif"
	ingest-resize -c 1 --masks "$TMP/masks" "$TMP/img/a.pgm" >"$TMP/got"
	run pam_dump "$TMP/got"
	assert_output $'a 3x2x2 65535 GRAYSCALE_LABEL\n2313,0 2313,1 2313,1\n2313,28 2313,0 2313,300'
	# A TIFF of several pages is not one mask.
	tiffcp "$TMP/masks/a.tif" "$TMP/masks/a.tif" "$TMP/masks/two.tif"
	mv "$TMP/masks/two.tif" "$TMP/masks/a.tif"
	run ingest-resize -c 1 --masks "$TMP/masks" "$TMP/img/a.pgm"
	assert_failure 1
	assert_output "ingest-resize: $TMP/masks/a.tif: a TIFF of 2 pages, not one image"
}

@test "a Data Science Bowl image stored as TIFF or JPEG is read too" {
	mkdir -p "$TMP/set/s1/images" "$TMP/set/s1/masks"
	make_images
	pamtotiff -truecolor "$TMP/rgb.ppm" >"$TMP/set/s1/images/s1.png"
	pam 2 2 255 GRAYSCALE 0 255 0 0 | pamtopnm | pnmtopng >"$TMP/set/s1/masks/m.png"
	ingest-resize "$TMP/set" >"$TMP/got"
	run pam_dump "$TMP/got"
	assert_output $'s1 2x2x4 255 RGB_LABEL\n1,2,3,0 4,5,6,1\n7,8,9,0 250,251,252,0'
}

@test "refused TIFFs and JPEGs: one line naming the file (and page), exit 1, nothing written" {
	make_images
	pamtotiff -truecolor "$TMP/g16.pgm" >"$TMP/g16.tif"
	# A 5-D OME stack.
	tiffcp "$TMP/g16.tif" "$TMP/g16.tif" "$TMP/ome.tif"
	tiffset -s 270 '<?xml version="1.0"?><OME><Image ID="Image:0"><Pixels SizeC="2" SizeT="3" SizeX="3" SizeY="2" SizeZ="5" Type="uint16"/></Image></OME>' "$TMP/ome.tif"
	run bash -c 'ingest-resize "$1" >"$2"' _ "$TMP/ome.tif" "$TMP/out"
	assert_failure 1
	assert_output "ingest-resize: $TMP/ome.tif: a 5-D stack (Z 5, C 2, T 3): only a stack along one of Z, C or T is read, each page an image (save one stack per file)"
	[[ ! -s $TMP/out ]]
	# Truncated: half of a 64 x 64 16-bit TIFF (the data, then the
	# directory at the end).
	"$REFPY" -c '
import sys
sys.stdout.buffer.write(b"P5\n64 64\n65535\n" + bytes(range(256)) * 32)' >"$TMP/big.pgm"
	pamtotiff "$TMP/big.pgm" >"$TMP/big.tif"
	head -c $(($(stat -c %s "$TMP/big.tif") / 2)) "$TMP/big.tif" >"$TMP/cut.tif"
	run bash -c 'ingest-resize "$1" >"$2"' _ "$TMP/cut.tif" "$TMP/out"
	assert_failure 1
	assert_output "ingest-resize: $TMP/cut.tif: truncated TIFF file"
	[[ ! -s $TMP/out ]]
	# Page 2 of two in CMYK: page 1 read, page 2 named.
	tiffcp "$TMP/g16.tif" "$TMP/g16.tif" "$TMP/two.tif"
	tiffset -d 1 -s 262 5 "$TMP/two.tif"
	run bash -c 'ingest-resize "$1" >"$2"' _ "$TMP/two.tif" "$TMP/out"
	assert_failure 1
	assert_output "ingest-resize: $TMP/two.tif: page 2: CMYK TIFF not supported (gray, RGB or a palette)"
	run grep -a '^#id' "$TMP/out"
	assert_output "#id two-1"
	# A truncated JPEG.
	pnmtojpeg "$TMP/rgb.ppm" | head -c 200 >"$TMP/cut.jpg"
	run bash -c 'ingest-resize "$1" >"$2"' _ "$TMP/cut.jpg" "$TMP/out"
	assert_failure 1
	assert_output "ingest-resize: $TMP/cut.jpg: corrupt JPEG file: Premature end of JPEG file"
	[[ ! -s $TMP/out ]]
	# A format we do not read, whatever its name.
	printf 'GIF89a\1\0\1\0' >"$TMP/x.tif"
	run ingest-resize "$TMP/x.tif"
	assert_failure 1
	assert_output "ingest-resize: $TMP/x.tif: not a PNG, TIFF, JPEG or Netpbm file"
	# A TIFF through a pipe.
	run bash -c 'ingest-resize <(cat "$1")' _ "$TMP/g16.tif"
	assert_failure 1
	assert_output --regexp "^ingest-resize: /dev/fd/[0-9]+: a TIFF is read from a regular file, not a stream$"
}

@test "save-images --format tiff: 8 and 16 bits read back equal, labels as 16-bit gray, one *_LABEL sample as two files" {
	make_images
	{
		ingest-resize -c 1 "$TMP/g8.pgm" "$TMP/g16.pgm"
		ingest-resize "$TMP/rgb.ppm" "$TMP/rgb16.ppm"
		pam 3 1 65535 LABEL id=lab 0 1 300
		pam 2 1 255 GRAYSCALE_LABEL id=s 10 20 0 7
	} >"$TMP/in.pam"
	run save-images --dir "$TMP/out" --format tiff "$TMP/in.pam"
	assert_success
	assert_output "$(printf "$TMP/out/%s.tif\n" g8 g16 rgb rgb16 lab s s-labels)"
	run tiffinfo "$TMP/out/g8.tif"
	assert_output --partial "Bits/Sample: 8"
	run tiffinfo "$TMP/out/g16.tif"
	assert_output --partial "Bits/Sample: 16"
	for f in g8 g16 rgb rgb16; do
		ingest-resize "$TMP/out/$f.tif" >"$TMP/got"
		ingest-resize "$TMP/$f".p?m | cmp - "$TMP/got"
	done
	run tiffinfo "$TMP/out/lab.tif"
	assert_output --partial "Bits/Sample: 16"
	assert_output --partial "min-is-black"
	ingest-resize -c 1 "$TMP/out/lab.tif" >"$TMP/got"
	run pam_dump "$TMP/got"
	assert_output $'lab 3x1x1 65535 GRAYSCALE\n0 1 300'
	ingest-resize -c 1 "$TMP/out/s-labels.tif" >"$TMP/got"
	run pam_dump "$TMP/got"
	assert_output $'s-labels 2x1x1 65535 GRAYSCALE\n20 7'
	# libtiff's own reader agrees.
	tifftopnm -byrow "$TMP/out/g16.tif" 2>/dev/null | cmp - "$TMP/g16.pgm"
	run ls -A "$TMP/out"
	assert_output "$(printf '%s.tif\n' g16 g8 lab rgb rgb16 s-labels s)"
}

@test "issue 12: a Data Science Bowl folder's images and masks in TIFF, JPEG and 16-bit PNG" {
	# s1: a 16-bit TIFF image, masks in TIFF (16 bits), JPEG and 16-bit PNG
	mkdir -p "$TMP/set/s1/images" "$TMP/set/s1/masks" "$TMP/set/s2/images" "$TMP/set/s2/masks"
	pam 2 2 65535 GRAYSCALE 0 1000 40000 65535 | pamtotiff >"$TMP/set/s1/images/s1.tif"
	pam 2 2 65535 GRAYSCALE 65535 0 0 0 | pamtotiff >"$TMP/set/s1/masks/m1.tif"
	pam 2 2 255 GRAYSCALE 0 255 0 0 | pamtopnm | pnmtojpeg -quality 100 >"$TMP/set/s1/masks/m2.jpg"
	pam 2 2 65535 GRAYSCALE 0 0 40000 0 | pamtopnm | pnmtopng >"$TMP/set/s1/masks/m3.png"
	run file -b "$TMP/set/s1/masks/m3.png"
	assert_output --partial "16-bit grayscale"
	# s2: a JPEG image, one 8-bit TIFF mask; a README beside the masks is
	# not a mask
	pam 2 2 255 GRAYSCALE 90 90 90 90 | pamtopnm | pnmtojpeg -quality 100 >"$TMP/set/s2/images/s2.jpeg"
	pam 2 2 255 GRAYSCALE 0 0 0 255 | pamtotiff >"$TMP/set/s2/masks/a.tiff"
	echo notes >"$TMP/set/s2/masks/README"
	ingest-resize -c 1 "$TMP/set" >"$TMP/got"
	run pam_dump "$TMP/got"
	assert_output $'s1 2x2x2 65535 GRAYSCALE_LABEL\n0,1 1000,2\n40000,3 65535,0\ns2 2x2x2 255 GRAYSCALE_LABEL\n90,0 90,0\n90,0 90,1'
	# --semantic: the union
	ingest-resize -c 1 --semantic "$TMP/set/s1" >"$TMP/got"
	run pam_dump "$TMP/got"
	assert_output $'s1 2x2x2 65535 GRAYSCALE_MASK\n0,65535 1000,65535\n40000,65535 65535,0'
	# a mask of several pages, and one of another size, are refused naming it
	tiffcp "$TMP/set/s2/masks/a.tiff" "$TMP/set/s2/masks/a.tiff" "$TMP/set/s2/masks/b.tif"
	run ingest-resize "$TMP/set/s2"
	assert_failure 1
	assert_output "ingest-resize: $TMP/set/s2/masks/b.tif: a TIFF of 2 pages, not one image"
	pam 3 2 255 GRAYSCALE 0 0 0 0 0 0 | pamtotiff >"$TMP/set/s2/masks/b.tif"
	run ingest-resize "$TMP/set/s2"
	assert_failure 1
	assert_output "ingest-resize: $TMP/set/s2/masks/b.tif: 3x2, image is 2x2"
}

@test "issue 12: TIFF files of any name, ingested and saved as TIFF, keep their names" {
	mkdir "$TMP/in" "$TMP/out"
	pam 2 1 65535 GRAYSCALE 7 60000 | pamtotiff >"$TMP/in/DAPI well A1 (z3).tif"
	pam 2 1 255 GRAYSCALE 1 2 | pamtotiff >"$TMP/in/µm-1.tif"
	ingest-resize -c 1 "$TMP/in/DAPI well A1 (z3).tif" "$TMP/in/µm-1.tif" |
		save-images --format tiff --dir "$TMP/out" >"$TMP/list"
	run cat "$TMP/list"
	assert_output "$TMP/out/DAPI well A1 (z3).tif"$'\n'"$TMP/out/µm-1.tif"
	ingest-resize -c 1 "$TMP/out/DAPI well A1 (z3).tif" >"$TMP/got"
	run pam_dump "$TMP/got"
	assert_output $'DAPI well A1 (z3) 2x1x1 65535 GRAYSCALE\n7 60000'
}
