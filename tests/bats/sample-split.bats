#!/usr/bin/env bats
# sample-split: ratio and fold splits of a sample stream.

load helpers

# make_stream N: N tiny GRAYSCALE_MASK samples with ids s000, s001, ...
# and a raster that differs for each, written to stdout.
make_stream() {
	"$REFPY" -c '
import sys
out = sys.stdout.buffer
for i in range(int(sys.argv[1])):
    out.write(b"P7\nWIDTH 2\nHEIGHT 1\nDEPTH 2\nMAXVAL 255\n"
              b"TUPLTYPE GRAYSCALE_MASK\n#id s%03d\nENDHDR\n" % i)
    out.write(bytes([i % 256, 0, (7 * i) % 256, 255]))
' "$1"
}

# images FILE...: one line per image, "id raster-hex", in stream order.
images() {
	"$REFPY" -c '
import sys
for path in sys.argv[1:]:
    data = open(path, "rb").read()
    pos = 0
    while pos < len(data):
        end = data.index(b"ENDHDR\n", pos) + 7
        head = data[pos:end].decode().split("\n")
        f = dict(l.split(" ", 1) for l in head[1:] if " " in l)
        ident = next(l[4:] for l in head if l.startswith("#id "))
        n = int(f["WIDTH"]) * int(f["HEIGHT"]) * int(f["DEPTH"])
        n *= 2 if int(f["MAXVAL"]) > 255 else 1
        print(ident, data[end:end + n].hex())
        pos = end + n
' "$@"
}

count_images() {
	images "$1" | wc -l
}

@test "80:10:10 on 20 samples gives 16, 2 and 2, in stream order" {
	make_stream 20 >"$TMP/in.pam"
	run sample-split --seed 1 --ratio 80:10:10 "$TMP/in.pam" \
		"$TMP/a.pam" "$TMP/b.pam" "$TMP/c.pam"
	assert_success
	assert_output ""
	assert_equal "$(count_images "$TMP/a.pam")" 16
	assert_equal "$(count_images "$TMP/b.pam")" 2
	assert_equal "$(count_images "$TMP/c.pam")" 2
	for f in a b c; do
		images "$TMP/$f.pam" | cut -d' ' -f1 >"$TMP/$f.ids"
		sort -c "$TMP/$f.ids"
	done
}

@test "largest remainder: 80:10:10 on 7 samples gives 5, 1 and 1" {
	make_stream 7 >"$TMP/in.pam"
	run sample-split --ratio 80:10:10 "$TMP/in.pam" \
		"$TMP/a.pam" "$TMP/b.pam" "$TMP/c.pam"
	assert_success
	assert_equal "$(count_images "$TMP/a.pam")" 5
	assert_equal "$(count_images "$TMP/b.pam")" 1
	assert_equal "$(count_images "$TMP/c.pam")" 1
}

@test "largest remainder ties go to the first part: 1:1:1 on 5 gives 2, 2, 1" {
	make_stream 5 >"$TMP/in.pam"
	run sample-split --ratio 1:1:1 "$TMP/in.pam" \
		"$TMP/a.pam" "$TMP/b.pam" "$TMP/c.pam"
	assert_success
	assert_equal "$(count_images "$TMP/a.pam")" 2
	assert_equal "$(count_images "$TMP/b.pam")" 2
	assert_equal "$(count_images "$TMP/c.pam")" 1
}

@test "the outputs together hold every input image exactly once, bytes kept" {
	make_stream 23 >"$TMP/in.pam"
	run sample-split --seed 9 --ratio 3:1:1 "$TMP/in.pam" \
		"$TMP/a.pam" "$TMP/b.pam" "$TMP/c.pam"
	assert_success
	images "$TMP/in.pam" | sort >"$TMP/want"
	images "$TMP/a.pam" "$TMP/b.pam" "$TMP/c.pam" | sort >"$TMP/got"
	run diff "$TMP/want" "$TMP/got"
	assert_success
	assert_equal "$(wc -l <"$TMP/got")" 23
}

@test "the same seed gives identical outputs, another seed others" {
	make_stream 30 >"$TMP/in.pam"
	sample-split --seed 4 --ratio 1:1 "$TMP/in.pam" "$TMP/a1" "$TMP/b1"
	sample-split --seed 4 --ratio 1:1 "$TMP/in.pam" "$TMP/a2" "$TMP/b2"
	sample-split --seed 5 --ratio 1:1 "$TMP/in.pam" "$TMP/a3" "$TMP/b3"
	cmp "$TMP/a1" "$TMP/a2"
	cmp "$TMP/b1" "$TMP/b2"
	run cmp -s "$TMP/a1" "$TMP/a3"
	assert_failure
}

@test "stdin (pipe or file) splits like a named file" {
	make_stream 12 >"$TMP/in.pam"
	sample-split --seed 2 --ratio 2:1 "$TMP/in.pam" "$TMP/a1" "$TMP/b1"
	cat "$TMP/in.pam" | sample-split --seed 2 --ratio 2:1 "$TMP/a2" "$TMP/b2"
	sample-split --seed 2 --ratio 2:1 - "$TMP/a3" "$TMP/b3" <"$TMP/in.pam"
	cmp "$TMP/a1" "$TMP/a2"
	cmp "$TMP/b1" "$TMP/b2"
	cmp "$TMP/a1" "$TMP/a3"
	cmp "$TMP/b1" "$TMP/b3"
	assert_equal "$(count_images "$TMP/a1")" 8
}

@test "--folds K: every sample in exactly one fold, sizes 4, 3, 3" {
	make_stream 10 >"$TMP/in.pam"
	run sample-split --seed 3 --folds 3 "$TMP/in.pam" \
		"$TMP/f1" "$TMP/f2" "$TMP/f3"
	assert_success
	assert_equal "$(count_images "$TMP/f1")" 4
	assert_equal "$(count_images "$TMP/f2")" 3
	assert_equal "$(count_images "$TMP/f3")" 3
	images "$TMP/in.pam" | sort >"$TMP/want"
	images "$TMP/f1" "$TMP/f2" "$TMP/f3" | sort >"$TMP/got"
	diff "$TMP/want" "$TMP/got"
}

@test "--folds K --fold I: TEST is fold I, TRAIN the other folds" {
	make_stream 10 >"$TMP/in.pam"
	sample-split --seed 3 --folds 3 "$TMP/in.pam" "$TMP/f1" "$TMP/f2" "$TMP/f3"
	for i in 1 2 3; do
		run sample-split --seed 3 --folds 3 --fold "$i" "$TMP/in.pam" \
			"$TMP/train$i" "$TMP/test$i"
		assert_success
		cmp "$TMP/test$i" "$TMP/f$i"
		images "$TMP/in.pam" | sort >"$TMP/want"
		images "$TMP/train$i" "$TMP/test$i" | sort >"$TMP/got"
		diff "$TMP/want" "$TMP/got"
	done
	assert_equal "$(count_images "$TMP/train1")" 6
	assert_equal "$(count_images "$TMP/train2")" 7
}

@test "--ids: listed ids to LISTED, the others to OTHERS, in stream order" {
	make_stream 6 >"$TMP/in.pam"
	printf 's004\ns001\r\n\ns003\n' >"$TMP/ids"
	run sample-split --ids "$TMP/ids" "$TMP/in.pam" "$TMP/a" "$TMP/b"
	assert_success
	assert_output ""
	assert_equal "$(images "$TMP/a" | cut -d' ' -f1 | tr '\n' ' ')" "s001 s003 s004 "
	assert_equal "$(images "$TMP/b" | cut -d' ' -f1 | tr '\n' ' ')" "s000 s002 s005 "
	images "$TMP/in.pam" | sort >"$TMP/want"
	images "$TMP/a" "$TMP/b" | sort >"$TMP/got"
	diff "$TMP/want" "$TMP/got"
	cat "$TMP/in.pam" | sample-split --ids "$TMP/ids" "$TMP/a2" "$TMP/b2"
	cmp "$TMP/a" "$TMP/a2"
	cmp "$TMP/b" "$TMP/b2"
}

@test "--ids: ids not in the stream are ignored, ids match whole" {
	make_stream 3 >"$TMP/in.pam"
	printf 's001\nnope\ns0010\ns00\n' >"$TMP/ids"
	run sample-split --ids "$TMP/ids" "$TMP/in.pam" "$TMP/a" "$TMP/b"
	assert_success
	assert_output ""
	assert_equal "$(images "$TMP/a" | cut -d' ' -f1)" s001
	assert_equal "$(count_images "$TMP/a")" 1
	assert_equal "$(count_images "$TMP/b")" 2
}

@test "--ids: images without an id go to OTHERS; an empty list lists none" {
	printf 'P7\nWIDTH 1\nHEIGHT 1\nDEPTH 1\nMAXVAL 255\nTUPLTYPE GRAYSCALE\nENDHDR\nx' >"$TMP/in.pam"
	: >"$TMP/ids"
	run sample-split --ids "$TMP/ids" "$TMP/in.pam" "$TMP/a" "$TMP/b"
	assert_success
	[[ -f $TMP/a && ! -s $TMP/a ]]
	cmp "$TMP/in.pam" "$TMP/b"
}

@test "--ids: a missing list is one line and exit 1, no outputs" {
	make_stream 3 >"$TMP/in.pam"
	run sample-split --ids "$TMP/nosuch" "$TMP/in.pam" "$TMP/a" "$TMP/b"
	assert_failure 1
	assert_one_error_line sample-split
	assert_output "sample-split: $TMP/nosuch: No such file or directory"
	[[ ! -e $TMP/a && ! -e $TMP/b ]]
}

@test "fewer samples than outputs leaves some outputs empty" {
	make_stream 1 >"$TMP/in.pam"
	run sample-split --folds 3 "$TMP/in.pam" "$TMP/f1" "$TMP/f2" "$TMP/f3"
	assert_success
	assert_equal "$(cat "$TMP/f1" "$TMP/f2" "$TMP/f3" | wc -c)" \
		"$(wc -c <"$TMP/in.pam")"
}

@test "empty input: exit 1, one line, nothing written" {
	run sample-split --ratio 1:1 "$TMP/a" "$TMP/b" </dev/null
	assert_failure 1
	assert_output "sample-split: stdin: no images (nothing written)"
	[[ ! -e $TMP/a && ! -e $TMP/b ]]
}

@test "a missing INPUT operand with an empty stdin leaves the would-be input intact" {
	make_stream 5 >"$TMP/all.pam"
	cp "$TMP/all.pam" "$TMP/all.before"
	run sample-split --ratio 80:20 "$TMP/all.pam" "$TMP/a.pam" </dev/null
	assert_failure 1
	assert_output "sample-split: stdin: no images (nothing written)"
	cmp "$TMP/all.pam" "$TMP/all.before"
	[[ ! -e $TMP/a.pam ]]
	run ls -A "$TMP"
	assert_output $'all.before\nall.pam'
}

@test "stdin on a terminal is refused at once, nothing written" {
	command -v script >/dev/null || skip "no script(1)"
	make_stream 5 >"$TMP/all.pam"
	cp "$TMP/all.pam" "$TMP/all.before"
	cd "$TMP"
	run timeout 10 script -qec "sample-split --ratio 80:20 all.pam a.pam" \
		/dev/null </dev/null
	assert_output --partial "sample-split: stdin is a terminal: give INPUT or redirect a stream"
	cmp all.pam all.before
	run ls -A "$TMP"
	assert_output $'all.before\nall.pam'
}

@test "an output that is the input is refused before anything is written" {
	make_stream 6 >"$TMP/s.pam"
	cp "$TMP/s.pam" "$TMP/s.before"
	run sample-split --ratio 1:1 "$TMP/s.pam" "$TMP/s.pam" "$TMP/b.pam"
	assert_failure 1
	assert_output "sample-split: $TMP/s.pam: is also an input (an output never replaces an input)"
	cmp "$TMP/s.pam" "$TMP/s.before"
	ln -s s.pam "$TMP/link.pam"
	run sample-split --ratio 1:1 "$TMP/s.pam" "$TMP/b.pam" "$TMP/link.pam"
	assert_failure 1
	assert_one_error_line sample-split
	cmp "$TMP/s.pam" "$TMP/s.before"
	run sample-split --ratio 1:1 "$TMP/a.pam" "$TMP/b.pam" <"$TMP/s.pam"
	assert_success
	run sample-split --ratio 1:1 "$TMP/s.pam" "$TMP/b.pam" <"$TMP/s.pam"
	assert_failure 1
	assert_one_error_line sample-split
	cmp "$TMP/s.pam" "$TMP/s.before"
	run ls -A "$TMP"
	assert_output $'a.pam\nb.pam\nlink.pam\ns.before\ns.pam'
}

@test "stdout redirected to the input or the --ids file is refused" {
	make_stream 4 >"$TMP/s.pam"
	cp "$TMP/s.pam" "$TMP/s.before"
	run bash -c 'sample-split --ratio 1:1 "$1" "$2/a" "$2/b" >>"$1"' _ "$TMP/s.pam" "$TMP"
	assert_failure 1
	assert_output "sample-split: $TMP/s.pam: is also the standard output"
	cmp "$TMP/s.pam" "$TMP/s.before"
	echo s001 >"$TMP/ids"
	run bash -c 'sample-split --ids "$1" "$2/s.pam" "$2/a" "$2/b" >>"$1"' _ "$TMP/ids" "$TMP"
	assert_failure 1
	assert_output "sample-split: $TMP/ids: is also the standard output"
	assert_equal "$(cat "$TMP/ids")" s001
	[[ ! -e $TMP/a && ! -e $TMP/b ]]
}

@test "--ids: the list file is an input, never an output" {
	make_stream 4 >"$TMP/s.pam"
	echo s001 >"$TMP/ids"
	run sample-split --ids "$TMP/ids" "$TMP/s.pam" "$TMP/ids" "$TMP/b"
	assert_failure 1
	assert_output "sample-split: $TMP/ids: is also an input (an output never replaces an input)"
	assert_equal "$(cat "$TMP/ids")" s001
	[[ ! -e $TMP/b ]]
}

@test "--ids: a NUL byte or an overlong line is an error, not an empty list" {
	make_stream 4 >"$TMP/s.pam"
	run sample-split --ids /dev/zero "$TMP/s.pam" "$TMP/a" "$TMP/b"
	assert_failure 1
	assert_output "sample-split: /dev/zero: line 1: holds a NUL byte"
	{ echo s001; head -c 5000 /dev/zero | tr '\0' x; echo; } >"$TMP/ids"
	run sample-split --ids "$TMP/ids" "$TMP/s.pam" "$TMP/a" "$TMP/b"
	assert_failure 1
	assert_output "sample-split: $TMP/ids: line 2: longer than 4096 bytes"
	[[ ! -e $TMP/a && ! -e $TMP/b ]]
}

@test "RGB images and plain PGM are split too" {
	{
		printf 'P7\nWIDTH 1\nHEIGHT 1\nDEPTH 3\nMAXVAL 255\nTUPLTYPE RGB\nENDHDR\nabc'
		printf 'P2\n1 1\n255\n7\n'
	} >"$TMP/in.pam"
	run sample-split --ratio 1:1 "$TMP/in.pam" "$TMP/a" "$TMP/b"
	assert_success
	assert_equal "$(cat "$TMP/a" "$TMP/b" | grep -ac ENDHDR)" 2
}

@test "usage errors exit 2" {
	make_stream 3 >"$TMP/in.pam"
	for args in "--ratio 1:0 a b" "--ratio 1 a" "--ratio 1:x a b" \
		"--ratio 1::1 a b" "--ratio 1:1 a" "--ratio 1:1 in a b c" \
		"--folds 1 a" "--folds 3 --fold 4 a b" "--fold 1 a b" \
		"--ratio 1:1 --folds 2 a b" "a b" "--ratio 1:1 a a" \
		"--ratio 1:1 a -" "--seed -1 --ratio 1:1 a b" "--bogus" \
		"--ids in --ratio 1:1 a b" "--ids in --folds 2 a b" \
		"--ids in a" "--ids in x a b c" "--ids"; do
		run sample-split $args
		assert_failure 2
		assert_regex "${lines[0]}" "^sample-split: "
	done
	[[ ! -e a && ! -e b ]]
}

@test "--help and --version" {
	run sample-split --help
	assert_success
	assert_line --index 0 --regexp "^usage: sample-split "
	run sample-split --version
	assert_success
	assert_output --regexp "^sample-split unetpipe [0-9]"
}

@test "truncated stream: exit 1, one line, and no output files at all" {
	make_stream 5 | head -c -3 >"$TMP/in.pam"
	mkdir "$TMP/out"
	run sample-split --ratio 1:1 "$TMP/in.pam" "$TMP/out/a" "$TMP/out/b"
	assert_failure 1
	assert_one_error_line sample-split
	assert_output --partial "image 5"
	run ls -A "$TMP/out"
	assert_output ""
	make_stream 5 | head -c -3 | {
		run sample-split --ratio 1:1 "$TMP/out/a" "$TMP/out/b"
		assert_failure 1
		assert_output --regexp "^sample-split: stdin: image 5: "
	}
	run ls -A "$TMP/out"
	assert_output ""
}

@test "a bad image after good ones leaves earlier outputs untouched" {
	make_stream 3 >"$TMP/in.pam"
	sample-split --ratio 1:1 "$TMP/in.pam" "$TMP/a" "$TMP/b"
	cp "$TMP/a" "$TMP/a.before"
	{ cat "$TMP/in.pam"; printf 'P7\nWIDTH 1\n'; } >"$TMP/bad.pam"
	run sample-split --ratio 1:1 "$TMP/bad.pam" "$TMP/a" "$TMP/b"
	assert_failure 1
	assert_one_error_line sample-split
	cmp "$TMP/a" "$TMP/a.before"
}

@test "not a PAM stream: exit 1, one line" {
	echo "hello" >"$TMP/in.txt"
	run sample-split --ratio 1:1 "$TMP/in.txt" "$TMP/a" "$TMP/b"
	assert_failure 1
	assert_one_error_line sample-split
	[[ ! -e $TMP/a ]]
}

@test "missing input file: exit 1, one line" {
	run sample-split --ratio 1:1 "$TMP/nope.pam" "$TMP/a" "$TMP/b"
	assert_failure 1
	assert_one_error_line sample-split
}

@test "unwritable output directory: exit 1, one line, nothing written" {
	make_stream 4 >"$TMP/in.pam"
	touch "$TMP/file"
	run sample-split --ratio 1:1 "$TMP/in.pam" "$TMP/a" "$TMP/file/b"
	assert_failure 1
	assert_one_error_line sample-split
	assert_output --partial "$TMP/file/b"
	[[ ! -e $TMP/a ]]
	run ls -A "$TMP"
	assert_output --regexp '^file
in.pam$'
}

# kill_waiting SIGNAL: start sample-split on a slow stdin (5 s before its
# data) with TMPDIR in $TMP/spool and existing outputs $TMP/out/a and b,
# kill it while it waits, and check that it died of the signal, that the
# old outputs are intact and that no temporary file is left anywhere.
kill_waiting() {
	make_stream 6 >"$TMP/s.pam"
	mkdir "$TMP/out" "$TMP/spool"
	sample-split --ratio 1:1 "$TMP/s.pam" "$TMP/out/a" "$TMP/out/b"
	cp "$TMP/out/a" "$TMP/a.before"
	cp "$TMP/out/b" "$TMP/b.before"
	(sleep 5; cat "$TMP/s.pam") |
		TMPDIR=$TMP/spool sample-split --ratio 1:1 "$TMP/out/a" "$TMP/out/b" &
	pid=$!
	sleep 1
	kill -"$1" "$pid"
	status=0
	wait "$pid" || status=$?
	assert_equal "$status" "$2"
	cmp "$TMP/out/a" "$TMP/a.before"
	cmp "$TMP/out/b" "$TMP/b.before"
	run ls -A "$TMP/out" "$TMP/spool"
	assert_output "$TMP/out:
a
b

$TMP/spool:"
}

@test "SIGTERM on a slow stdin: old outputs intact, no temporary file left" {
	kill_waiting TERM 143
}

@test "SIGKILL on a slow stdin: old outputs intact, no temporary file left" {
	kill_waiting KILL 137
}

@test "killed while waiting for a FIFO input: no file left" {
	mkfifo "$TMP/fifo"
	mkdir "$TMP/out"
	TMPDIR=$TMP/out sample-split --ratio 1:1 "$TMP/fifo" "$TMP/out/a" "$TMP/out/b" &
	pid=$!
	sleep 0.5
	kill -TERM "$pid"
	status=0
	wait "$pid" || status=$?
	assert_equal "$status" 143
	run ls -A "$TMP/out"
	assert_output ""
}

@test "issue 14: *_LABEL samples pass through byte for byte" {
	ingest-resize --quiet --size 64x64 "$DATA/stage1_train" >"$TMP/in.pam"
	# and a 16-bit one with a label above 255 (a header as the filters
	# write it: sample-split writes every header so)
	printf 'P7\n#id big\nWIDTH 2\nHEIGHT 1\nDEPTH 2\nMAXVAL 65535\nTUPLTYPE GRAYSCALE_LABEL\nENDHDR\n\x01\x01\x01\x2c\x02\x02\x00\x00' >>"$TMP/in.pam"
	assert_equal "$(grep -a -c '^TUPLTYPE RGB_LABEL$' "$TMP/in.pam")" 24
	# every id listed: LISTED is the input itself
	images "$TMP/in.pam" | cut -d' ' -f1 >"$TMP/ids"
	sample-split --ids "$TMP/ids" "$TMP/in.pam" "$TMP/a" "$TMP/b"
	cmp "$TMP/a" "$TMP/in.pam"
	[ ! -s "$TMP/b" ]
	# a ratio split: each image whole (header and raster) in one output
	sample-split --seed 3 --ratio 2:1 "$TMP/in.pam" "$TMP/c" "$TMP/d"
	run "$REFPY" -c '
import sys
def whole(path):
    data, pos, out = open(path, "rb").read(), 0, []
    while pos < len(data):
        end = data.index(b"ENDHDR\n", pos) + 7
        f = dict(l.split(" ", 1) for l in data[pos:end].decode().split("\n") if " " in l)
        n = int(f["WIDTH"]) * int(f["HEIGHT"]) * int(f["DEPTH"])
        n *= 2 if int(f["MAXVAL"]) > 255 else 1
        out.append(data[pos:end + n])
        pos = end + n
    return out
a = whole(sys.argv[1])
b = whole(sys.argv[2]) + whole(sys.argv[3])
print(len(a), sorted(a) == sorted(b), sum(x.count(b"_LABEL\n") for x in b))
' "$TMP/in.pam" "$TMP/c" "$TMP/d"
	assert_output "25 True 25"
}
