use super::*;
use futures_util::stream;
use std::time::Duration;

fn lines() -> Vec<Vec<u8>> {
    (0..50)
        .map(|i| {
            format!(
                "{{\"event\":\"sync\",\"data\":\"{}\"}}\n",
                "QUJD".repeat(i * 37 + 1)
            )
            .into_bytes()
        })
        .collect()
}

fn encoded(encoding: Encoding) -> Vec<Bytes> {
    let mut encoder = LineEncoder::new(encoding);
    let mut out: Vec<Bytes> = lines().iter().map(|l| encoder.encode(l).unwrap()).collect();
    out.push(encoder.finish().unwrap());
    out
}

async fn inflate_all(
    chunks: Vec<Bytes>,
    encoding: Encoding,
    max_line: usize,
) -> Result<Vec<u8>, InflateError> {
    let source = stream::iter(chunks.into_iter().map(Ok::<_, std::io::Error>));
    let mut inflate = Inflate::new(source, Some(encoding), max_line);
    let mut all = Vec::new();
    while let Some(chunk) = inflate.next().await {
        all.extend_from_slice(&chunk?);
    }
    Ok(all)
}

#[tokio::test]
async fn both_encodings_round_trip_in_any_chunking() {
    let expected: Vec<u8> = lines().concat();
    for encoding in [Encoding::Zstd, Encoding::Gzip] {
        let whole = encoded(encoding);
        assert_eq!(
            inflate_all(whole.clone(), encoding, 1 << 20).await.unwrap(),
            expected
        );
        let bytes: Vec<Bytes> = whole
            .concat()
            .chunks(7)
            .map(Bytes::copy_from_slice)
            .collect();
        assert_eq!(
            inflate_all(bytes, encoding, 1 << 20).await.unwrap(),
            expected,
            "{encoding}"
        );
    }
}

#[tokio::test]
async fn each_line_can_be_read_before_the_next_is_sent() {
    for encoding in [Encoding::Zstd, Encoding::Gzip] {
        let mut encoder = LineEncoder::new(encoding);
        let first = encoder.encode(b"{\"event\":\"ping\"}\n").unwrap();
        // The stream then stays open with nothing more: the line must come out.
        let source = stream::iter([Ok::<_, std::io::Error>(first)]).chain(stream::pending());
        let mut inflate = Inflate::new(source, Some(encoding), 1024);
        let mut got = Vec::new();
        while !got.ends_with(b"\n") {
            let chunk = tokio::time::timeout(Duration::from_secs(5), inflate.next())
                .await
                .expect("the line is readable without more input")
                .unwrap()
                .unwrap();
            got.extend_from_slice(&chunk);
        }
        assert_eq!(got, b"{\"event\":\"ping\"}\n", "{encoding}");
    }
}

#[tokio::test]
async fn a_line_that_inflates_past_the_limit_is_refused_while_inflating() {
    // 64 MiB of one endless line compresses to a few KiB.
    let bomb = vec![b'x'; 64 << 20];
    for encoding in [Encoding::Zstd, Encoding::Gzip] {
        let mut encoder = LineEncoder::new(encoding);
        let packed = encoder.encode(&bomb).unwrap();
        assert!(packed.len() < 1 << 20);
        let source = stream::iter([Ok::<_, std::io::Error>(packed)]);
        let mut inflate = Inflate::new(source, Some(encoding), 1 << 20);
        let mut inflated = 0;
        let err = loop {
            match inflate.next().await.expect("an error before the end") {
                Ok(chunk) => inflated += chunk.len(),
                Err(e) => break e,
            }
        };
        assert!(
            matches!(err, InflateError::LineTooLong { limit, .. } if limit == 1 << 20),
            "{err}"
        );
        assert!(
            err.to_string().contains("longer than 1048576 bytes"),
            "{err}"
        );
        assert!(
            inflated <= (1 << 20) + (1 << 20),
            "stopped near the limit, not after {inflated} bytes"
        );
    }
}

#[tokio::test]
async fn a_cut_or_damaged_body_is_an_error() {
    for encoding in [Encoding::Zstd, Encoding::Gzip] {
        let mut whole = encoded(encoding).concat();
        whole.truncate(whole.len() - 3);
        let err = inflate_all(vec![Bytes::from(whole)], encoding, 1 << 20)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                InflateError::Truncated(_) | InflateError::Corrupt { .. }
            ),
            "{err}"
        );
    }
    let err = inflate_all(
        vec![Bytes::from_static(b"not zstd at all\n")],
        Encoding::Zstd,
        1024,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, InflateError::Corrupt { .. }), "{err}");
}

#[tokio::test]
async fn encode_stream_without_an_encoding_passes_lines_through() {
    let input = stream::iter(vec![Bytes::from_static(b"a\n"), Bytes::from_static(b"b\n")]);
    let out: Vec<_> = encode_stream(input, None)
        .map(|r| r.unwrap())
        .collect()
        .await;
    assert_eq!(out.concat(), b"a\nb\n");
    let input = stream::iter(vec![Bytes::from_static(b"a\n"), Bytes::from_static(b"b\n")]);
    let out: Vec<_> = encode_stream(input, Some(Encoding::Gzip))
        .map(|r| r.unwrap())
        .collect()
        .await;
    assert_eq!(
        inflate_all(out, Encoding::Gzip, 64).await.unwrap(),
        b"a\nb\n"
    );
}

#[test]
fn negotiation_leaves_go_and_plain_clients_on_identity() {
    // Go's transport adds this by itself: not a request for compression.
    assert_eq!(response_encoding("gzip", false), None);
    assert_eq!(response_encoding("", false), None);
    assert_eq!(response_encoding("gzip", true), Some(Encoding::Gzip));
    // curl --compressed, browsers, Tandem.
    assert_eq!(
        response_encoding("deflate, gzip, br, zstd", false),
        Some(Encoding::Zstd)
    );
    assert_eq!(response_encoding("zstd, gzip", true), Some(Encoding::Zstd));
    assert_eq!(
        response_encoding("zstd;q=0, gzip", true),
        Some(Encoding::Gzip)
    );
    assert_eq!(response_encoding("br", true), None);
    assert!(names_feature("ephemeral, Compression", FEATURE));
    assert!(!names_feature("ephemeral", FEATURE));
    assert_eq!(
        Encoding::from_content_encoding("zstd"),
        Ok(Some(Encoding::Zstd))
    );
    assert_eq!(Encoding::from_content_encoding("identity"), Ok(None));
    assert_eq!(Encoding::from_content_encoding("br"), Err("br".into()));
}

#[tokio::test]
async fn a_line_longer_than_one_output_chunk_round_trips() {
    // Incompressible-ish base64, several times the 64 KiB output step.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut line: Vec<u8> = (0..600_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                [(state % 64) as usize]
        })
        .collect();
    line.push(b'\n');
    for encoding in [Encoding::Zstd, Encoding::Gzip] {
        let mut encoder = LineEncoder::new(encoding);
        let mut packed = encoder.encode(&line).unwrap().to_vec();
        packed.extend_from_slice(&encoder.encode(b"{}\n").unwrap());
        packed.extend_from_slice(&encoder.finish().unwrap());
        for size in [16 * 1024, 1000, packed.len()] {
            let chunks = packed.chunks(size).map(Bytes::copy_from_slice).collect();
            let got = inflate_all(chunks, encoding, 1 << 20).await.unwrap();
            assert_eq!(got.len(), line.len() + 3, "{encoding} in chunks of {size}");
        }
    }
}
