use std::io::Write;

use super::*;

fn split(input: &[u8]) -> Vec<Item> {
    split_with(input, Limits::default())
}

fn split_with(input: &[u8], limits: Limits) -> Vec<Item> {
    Records::new(std::io::Cursor::new(input.to_vec()), limits)
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_else(|e| panic!("input error: {e}"))
}

fn texts(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .map(|i| match i {
            Item::Record(r) => r.text.clone(),
            Item::Rejected(r) => format!("!{}", r.reason),
        })
        .collect()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap_or_else(|e| panic!("{e}"));
    enc.finish().unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_container_shape_is_split() {
    assert_eq!(
        texts(&split(b"{\"a\":1}\n{\"b\":2}\n")),
        ["{\"a\":1}", "{\"b\":2}"]
    );
    assert_eq!(
        texts(&split(b"[{\"a\":1}, {\"b\":[2]} ,{\"c\":3}]")),
        ["{\"a\":1}", "{\"b\":[2]}", "{\"c\":3}"]
    );
    assert_eq!(
        texts(&split(b"{\"Records\":[{\"a\":1},{\"b\":2}]}")),
        ["{\"a\":1}", "{\"b\":2}"]
    );
    assert_eq!(
        texts(&split(
            b"{ \"records\" :\n [\n  {\"a\":1}\n ]\n}\n{\"z\":0}"
        )),
        ["{\"a\":1}", "{\"z\":0}"]
    );
    // A pretty-printed single object is one record.
    assert_eq!(
        texts(&split(b"{\n  \"a\": {\n    \"b\": 1\n  }\n}\n")),
        ["{\n  \"a\": {\n    \"b\": 1\n  }\n}"]
    );
    // `Records` that is not the first key: expanded from the (bounded) object; not an array:
    // the whole object is one record (the normalizer decides what it is).
    let items = split(b"{\"x\":1,\n\"Records\":[{\"a\":1},\n {\"b\":2}]}\n{\"c\":3}");
    assert_eq!(texts(&items), ["{\"a\":1}", "{\"b\":2}", "{\"c\":3}"]);
    let pos: Vec<Position> = items.iter().map(Item::position).collect();
    assert_eq!(
        pos,
        [
            Position {
                index: 1,
                line: 2,
                offset: 19
            },
            Position {
                index: 2,
                line: 3,
                offset: 29
            },
            Position {
                index: 3,
                line: 4,
                offset: 39
            },
        ]
    );
    assert_eq!(texts(&split(b"{\"Records\":5}")), ["{\"Records\":5}"]);
    // Other keys after the array are skipped.
    assert_eq!(
        texts(&split(
            b"{\"Records\":[{\"a\":\"]}\"}],\"n\":{\"x\":[1]}}\n{\"b\":2}"
        )),
        ["{\"a\":\"]}\"}", "{\"b\":2}"]
    );
}

#[test]
fn braces_inside_strings_and_escapes_do_not_split() {
    let input = br#"{"a":"}{\"\\","b":"x\"}"}"#;
    assert_eq!(texts(&split(input)), [String::from_utf8_lossy(input)]);
}

#[test]
fn positions_count_records_lines_and_bytes() {
    let input = b"\xEF\xBB\xBF{\"a\":1}\n\n  {\"b\":2}\n{\"Records\":[\n{\"c\":3},\n{\"d\":4}]}\n";
    let items = split(input);
    let pos: Vec<Position> = items.iter().map(Item::position).collect();
    assert_eq!(
        pos,
        [
            Position {
                index: 1,
                line: 1,
                offset: 3
            },
            Position {
                index: 2,
                line: 3,
                offset: 14
            },
            Position {
                index: 3,
                line: 5,
                offset: 35
            },
            Position {
                index: 4,
                line: 6,
                offset: 44
            },
        ]
    );
    assert_eq!(&input[44..51], b"{\"d\":4}");
}

#[test]
fn a_bad_line_costs_only_itself() {
    // Invalid JSON is handed out (the normalizer names the error); a line cut inside a string
    // or between values ends at its newline; junk lines are one record each.
    let input = b"{\"a\":1}\n{\"b\": nope}\n{\"c\":\"cut\n{\"d\":{\"e\":1},\n{\"f\":6}\nnot json\n}\n{\"g\":7}";
    assert_eq!(
        texts(&split(input)),
        [
            "{\"a\":1}",
            "{\"b\": nope}",
            "{\"c\":\"cut",
            "{\"d\":{\"e\":1},\n",
            "{\"f\":6}",
            "not json",
            "}",
            "{\"g\":7}"
        ]
    );
}

#[test]
fn invalid_utf8_rejects_only_its_record_naming_the_byte() {
    let input = b"{\"a\":1}\n{\"b\":\"\xff\"}\n{\"c\":3}\n";
    let items = split(input);
    assert_eq!(items.len(), 3);
    assert!(matches!(items[0], Item::Record(_)));
    assert_eq!(
        items[1],
        Item::Rejected(Rejected {
            position: Position {
                index: 2,
                line: 2,
                offset: 8
            },
            reason: Reject::NotUtf8 { at: 14 },
        })
    );
    assert!(matches!(&items[2], Item::Record(r) if r.text == "{\"c\":3}"));
}

#[test]
fn limits_reject_the_record_and_splitting_goes_on() {
    let limits = Limits {
        max_record_bytes: 64,
        max_depth: 4,
        ..Limits::default()
    };
    let big = format!("{{\"a\":\"{}\"}}", "x".repeat(1000));
    let deep = format!("{}{}", "[".repeat(10), "]".repeat(10));
    let input = format!("{{\"Records\":[{big},{{\"ok\":1}},{{\"d\":{deep}}},{{\"ok\":2}}]}}");
    let t = texts(&split_with(input.as_bytes(), limits));
    assert_eq!(t.len(), 4, "{t:?}");
    assert!(
        t[0].starts_with("!record larger than 64 bytes (at least 1008)"),
        "{t:?}"
    );
    assert_eq!(t[1], "{\"ok\":1}");
    assert!(t[2].starts_with("!nested more than 4 levels"), "{t:?}");
    assert_eq!(t[3], "{\"ok\":2}");
}

#[test]
fn truncated_containers_are_reported() {
    let t = texts(&split(b"{\"Records\":[{\"a\":1},{\"b\":"));
    assert_eq!(
        t,
        [
            "{\"a\":1}",
            "{\"b\":",
            "!input ends inside a `Records` array (truncated?)"
        ]
    );
    let t = texts(&split(b"[{\"a\":1},"));
    assert_eq!(
        t,
        ["{\"a\":1}", "!input ends inside a JSON array (truncated?)"]
    );
}

#[test]
fn gzip_members_are_decoded_as_a_stream() {
    let mut data = gzip(b"{\"a\":1}\n{\"b\":");
    data.extend(gzip(b"2}\n{\"c\":3}\n"));
    let t = texts(&split(&data));
    assert_eq!(t, ["{\"a\":1}", "{\"b\":2}", "{\"c\":3}"]);
}

#[test]
fn bytes_split_counts_the_decoded_text() {
    let text = b"{\"a\":1}\n{\"b\":2}\n".repeat(500);
    for data in [gzip(&text), text.clone()] {
        let mut records = Records::new(std::io::Cursor::new(data.clone()), Limits::default());
        assert_eq!(records.by_ref().count(), 1000);
        assert_eq!(
            records.bytes_split(),
            text.len() as u64,
            "gzip: {}",
            records.is_gzip()
        );
    }
}

#[test]
fn truncated_gzip_yields_complete_records_then_one_error() {
    let mut text = String::new();
    for i in 0..2000 {
        text.push_str(&format!(
            "{{\"n\":{i},\"pad\":\"{}\"}}\n",
            "p".repeat(i % 50)
        ));
    }
    let data = gzip(text.as_bytes());
    let cut = &data[..data.len() / 2];
    let mut records = Records::new(std::io::Cursor::new(cut.to_vec()), Limits::default());
    let mut n = 0;
    let err = loop {
        match records.next() {
            Some(Ok(Item::Record(r))) => {
                assert!(r.text.starts_with(&format!("{{\"n\":{n},")), "{}", r.text);
                n += 1;
            }
            Some(Ok(other)) => panic!("{other:?}"),
            Some(Err(e)) => break e,
            None => panic!("no error for a truncated gzip"),
        }
    };
    assert!(records.next().is_none());
    assert!(n > 100, "{n} records before the cut");
    let msg = err.to_string();
    assert!(
        msg.starts_with("gzip stream truncated or corrupt after "),
        "{msg}"
    );
}

#[test]
fn a_gzip_bomb_stops_at_the_ratio() {
    let data = gzip(&vec![b' '; 32 * 1024 * 1024]);
    let limits = Limits {
        max_gzip_ratio: 100,
        ..Limits::default()
    };
    let mut records = Records::new(std::io::Cursor::new(data.clone()), limits);
    match records.next() {
        Some(Err(InputError::Bomb {
            ratio: 100,
            compressed,
            decompressed,
        })) => {
            assert!(decompressed <= compressed * 100 + GZIP_RATIO_SLACK + BUF as u64 * 2);
        }
        other => panic!("{other:?}"),
    }
    // Under a permissive ratio the same input is only whitespace: no records, no error.
    let limits = Limits {
        max_gzip_ratio: 2000,
        ..Limits::default()
    };
    assert!(split_with(&data, limits).is_empty());
}

#[test]
fn splitting_is_linear() {
    // 200k tiny lines split in well under a second even in a debug build; a quadratic splitter
    // would take minutes. (Not a timing assertion: it only has to finish.)
    let line = "{\"eventName\":\"SendCommand\",\"n\":1}\n";
    let input = line.repeat(200_000);
    let items = split(input.as_bytes());
    assert_eq!(items.len(), 200_000);
    assert_eq!(
        items[199_999].position(),
        Position {
            index: 200_000,
            line: 200_000,
            offset: (line.len() * 199_999) as u64
        }
    );
}

/// Every item (with its position), splitting `input` fed in `chunk`-byte pieces, with or
/// without the run-based fast path.
fn split_chunked(input: &[u8], chunk: usize, fast: bool, limits: Limits) -> Vec<Item> {
    let mut sp = split::Splitter::new(limits);
    if !fast {
        sp = sp.byte_by_byte();
    }
    let mut out = std::collections::VecDeque::new();
    let mut items = Vec::new();
    for piece in input.chunks(chunk.max(1)) {
        let mut at = 0;
        while at < piece.len() {
            at += sp.feed(&piece[at..], &mut out);
            items.extend(out.drain(..));
        }
    }
    sp.finish(&mut out);
    items.extend(out.drain(..));
    items
}

/// The fast path of the splitter must split exactly as the byte machine does:
/// same records, rejects and positions, whatever the chunking.
#[test]
fn fast_path_agrees_with_the_byte_machine() {
    let tight = Limits {
        max_record_bytes: 40,
        max_depth: 3,
        ..Limits::default()
    };
    let cases: Vec<Vec<u8>> = vec![
        b"{\"a\":1}\n{\"b\":2}\n".to_vec(),
        b"{\"Records\":[{\"a\":\"x\\\"y\"},{\"b\":[1,{\"c\":\"]}\"}]},\n{\"d\":\"e\\\\\"}]}".to_vec(),
        b"[{\"a\":1}, \"str\\\"ing\", 42, {\"b\":\n[2]}]".to_vec(),
        b"{\"a\":\"cut\n{\"b\":2}\n{\"c\":\n{\"d\":4}\n".to_vec(),
        b"{\n  \"pretty\": {\n    \"x\": [1, 2]\n  }\n}\n{\"y\":\"esc\\\n\"}\n".to_vec(),
        b"{\"deep\":[[[[[1]]]]]}\n{\"ok\":1}\n{\"big\":\"0123456789012345678901234567890123456789\"}\n".to_vec(),
        b"\xef\xbb\xbf{\"bom\":1}\njunk line\n{\"x\":\"\xff\"}\n".to_vec(),
        b"{\"Records\":[{\"a\":1},{\"b\":2}".to_vec(),
        b"{\"records\":[{\"t\":\"2026\"}\n,\n{\"u\":[\"]\"]}]}\n".to_vec(),
    ];
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut random = Vec::new();
    let alphabet = b"{}[]\",:\\\n ab1";
    for _ in 0..300 {
        let len = 1 + (rng % 120) as usize;
        let mut v = Vec::with_capacity(len);
        for _ in 0..len {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            v.push(alphabet[(rng % alphabet.len() as u64) as usize]);
        }
        random.push(v);
    }
    // Long records, so that whole 64-byte blocks go through the block scan: mostly plain
    // bytes, some structure, strings, escapes and newlines, inside a `Records` array, a top
    // array, and as top-level lines.
    let sparse = b"aaaaaaaaaaaaaaaabbbbbbbbcc  {}[]\"\"\"\",:\\\n";
    for n in 0..400 {
        let len = 64 + (rng % 700) as usize;
        let mut v: Vec<u8> = match n % 3 {
            0 => b"{\"Records\":[{\"a\":".to_vec(),
            1 => b"[{\"a\":[".to_vec(),
            _ => b"{\"a\":{".to_vec(),
        };
        for _ in 0..len {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            v.push(sparse[(rng % sparse.len() as u64) as usize]);
        }
        v.extend_from_slice(b"}]}\n{\"b\":1}\n");
        random.push(v);
    }
    for input in cases.iter().chain(random.iter()) {
        for limits in [Limits::default(), tight] {
            let want = split_chunked(input, 1 << 20, false, limits);
            for chunk in [1, 2, 3, 7, 64, 1 << 20] {
                assert_eq!(
                    split_chunked(input, chunk, true, limits),
                    want,
                    "input {:?}, chunk {chunk}, limits {limits:?}",
                    String::from_utf8_lossy(input)
                );
                assert_eq!(split_chunked(input, chunk, false, limits), want);
            }
        }
    }
}

/// A skip filter drops exactly the records it names, counts them, leaves every other item and
/// position as without it, and never drops a container whole. It sees raw bytes: a filter that
/// keeps what is not UTF-8 has that record rejected as usual; one that does not, skips it.
#[test]
fn skipping_counts_and_keeps_positions() {
    let mut input = b"{\"Records\":[{\"n\":\"skip\"},{\"n\":\"keep\"},\n{\"n\":\"skip\",\"x\":\"\xff\"},{\"n\":\"skip\"}]}\n".to_vec();
    input.extend_from_slice(
        b"{\"n\":\"skip\"}\n{\"n\":\"keep\"}\n{\"meta\":1,\"Records\":[{\"n\":\"skip\"}]}\n",
    );
    let all = split(&input);
    let has_skip = |b: &[u8]| memchr::memmem::find(b, b"skip").is_some();
    for validating in [true, false] {
        // Small reads, so records also cross the reader's buffers.
        let reader = std::io::BufReader::with_capacity(7, std::io::Cursor::new(input.clone()));
        let mut reader = Records::plain(reader, Limits::default())
            .skipping(move |b| (!validating || std::str::from_utf8(b).is_ok()) && has_skip(b));
        let kept: Vec<Item> = reader
            .by_ref()
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{e}"));
        // The element of the embedded array (the last item) is split out of its container
        // after the skip decision on the container, so it is handed out.
        let last = all.len() - 1;
        let want: Vec<Item> = all
            .iter()
            .enumerate()
            .filter(|(n, i)| match i {
                _ if *n == last => true,
                Item::Record(r) => !r.text.contains("skip"),
                Item::Rejected(_) => validating,
            })
            .map(|(_, i)| i.clone())
            .collect();
        assert_eq!(kept, want, "validating: {validating}");
        // Skipped: two in the array (and the third, not UTF-8, unless validating) and one line.
        let skipped = if validating { 3 } else { 4 };
        assert_eq!(reader.skipped(), skipped);
        assert_eq!(
            kept.iter().any(
                |i| matches!(i, Item::Rejected(r) if matches!(r.reason, Reject::NotUtf8 { .. }))
            ),
            validating
        );
        assert_eq!(all.len(), kept.len() + skipped as usize);
    }
}
