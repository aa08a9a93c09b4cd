//! The key source's file parser (`keys::source::Lines`) and the shared index's decoders
//! (`keys::index`): the records and counts do not depend on how the file is cut into pieces,
//! every record parsed is found again by its digest, and arbitrary bytes read as a bucket or a
//! pointer never panic (a pointer that decodes encodes back to itself).
#![no_main]
use libfuzzer_sys::{fuzz_mutator, fuzz_target};
use tollgate::keys::index::{find, records, Pointer};
use tollgate::keys::source::Lines;
use std::collections::BTreeMap;
use tollgate::keys::Digest;
use tollgate_fuzz::{chunks, mutate, seed_of};

fn parse(data: &[u8], split: bool, need_digests: bool) -> (BTreeMap<u32, Vec<u8>>, u64, u64) {
    let mut l = Lines::new(16, need_digests);
    if split {
        for c in chunks(data) {
            l.feed(c);
        }
    } else {
        l.feed(data);
    }
    l.finish();
    (l.take(), l.keys, l.refused)
}

fuzz_target!(|data: &[u8]| {
    let need = seed_of(data) % 2 == 0;
    let (whole, keys, refused) = parse(data, false, need);
    let (pieces, keys2, refused2) = parse(data, true, need);
    assert_eq!((keys, refused), (keys2, refused2), "chunking changed the counts");
    assert_eq!(whole, pieces, "chunking changed the records");
    for bucket in whole.values() {
        for (d, _, _) in records(bucket) {
            let digest = Digest::parse(&format!("sha256:{}", d.iter().map(|b| format!("{b:02x}")).collect::<String>())).unwrap();
            assert!(find(bucket, &digest).is_some(), "a record parsed is not found by its digest");
        }
    }
    let _ = find(data, &Digest::of(data));
    if let Some(p) = Pointer::decode(data) {
        assert_eq!(Pointer::decode(p.encode().as_bytes()), Some(p));
    }
});

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| { mutate(data, size, max_size, seed) });
