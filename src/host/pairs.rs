//! The proxy-wasm "pairs" serialization of a map or list, read in place without copying:
//! `u32 count, count × (u32 key_len, u32 value_len), count × (key \0 value \0)`, little-endian.

/// A well-formed serialization (checked once by [`Pairs::parse`]), iterated without allocating.
#[derive(Debug, Clone, Copy)]
pub struct Pairs<'a> {
    bytes: &'a [u8],
    count: usize,
}

fn u32_at(bytes: &[u8], i: usize) -> Option<usize> {
    let b = bytes.get(i..i.checked_add(4)?)?;
    usize::try_from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])).ok()
}

impl<'a> Pairs<'a> {
    /// `None` unless `bytes` is exactly one serialization: sizes in bounds, every key and value
    /// NUL-terminated, nothing left over.
    pub fn parse(bytes: &'a [u8]) -> Option<Pairs<'a>> {
        let count = u32_at(bytes, 0)?;
        let mut data = count.checked_mul(8)?.checked_add(4)?;
        for i in 0..count {
            for len in [u32_at(bytes, 4 + 8 * i)?, u32_at(bytes, 8 + 8 * i)?] {
                let end = data.checked_add(len)?;
                if *bytes.get(end)? != 0 {
                    return None;
                }
                data = end + 1;
            }
        }
        (data == bytes.len()).then_some(Pairs { bytes, count })
    }

    /// Bytes that [`Pairs::parse`] accepted with this `count`, without checking them again.
    /// Reading stays bounds-checked: other bytes read as fewer pairs, never out of bounds.
    pub fn checked(bytes: &'a [u8], count: usize) -> Pairs<'a> {
        Pairs { bytes, count }
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + 'a {
        let (bytes, count) = (self.bytes, self.count);
        let mut data = 4 + 8 * count;
        (0..count).map_while(move |i| {
            let klen = u32_at(bytes, 4 + 8 * i)?;
            let vlen = u32_at(bytes, 8 + 8 * i)?;
            let key = bytes.get(data..data + klen)?;
            let value = bytes.get(data + klen + 1..data + klen + 1 + vlen)?;
            data += klen + vlen + 2;
            Some((key, value))
        })
    }

    /// The value of the first pair named `key`, as a single header read finds it.
    pub fn get(&self, key: &[u8]) -> Option<&'a [u8]> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }
}

/// Serializes pairs (the inverse of [`Pairs::parse`]).
#[cfg(test)]
pub fn encode<'k>(pairs: impl IntoIterator<Item = (&'k [u8], &'k [u8])> + Clone) -> Vec<u8> {
    let count = pairs.clone().into_iter().count();
    let mut out = Vec::new();
    out.extend_from_slice(&u32::try_from(count).unwrap_or(u32::MAX).to_le_bytes());
    for (k, v) in pairs.clone() {
        for part in [k, v] {
            out.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_le_bytes());
        }
    }
    for (k, v) in pairs {
        for part in [k, v] {
            out.extend_from_slice(part);
            out.push(0);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn sample() -> Vec<u8> {
        let pairs: [(&[u8], &[u8]); 4] = [(b":method", b"POST"), (b"x-empty", b""), (b"authorization", b"Bearer k"), (b"x-empty", b"second")];
        encode(pairs)
    }

    #[test]
    fn reads_in_place() {
        let bytes = sample();
        let p = Pairs::parse(&bytes).unwrap();
        assert_eq!(p.len(), 4);
        assert_eq!(p.get(b"authorization"), Some(&b"Bearer k"[..]));
        assert_eq!(p.get(b"x-empty"), Some(&b""[..]), "the first of a repeated name");
        assert_eq!(p.get(b"api-key"), None);
        let keys: Vec<&[u8]> = p.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, [&b":method"[..], b"x-empty", b"authorization", b"x-empty"]);
        assert!(Pairs::parse(&encode(std::iter::empty::<(&[u8], &[u8])>())).unwrap().is_empty());
    }

    #[test]
    fn refuses_anything_malformed() {
        let good = sample();
        // Every truncation, a byte too many, and every single-byte corruption of a size or a
        // terminator is refused; none panics.
        for n in 0..good.len() {
            assert!(Pairs::parse(&good[..n]).is_none(), "truncated to {n}");
        }
        let mut long = good.clone();
        long.push(0);
        assert!(Pairs::parse(&long).is_none());
        for i in 0..good.len() {
            for delta in [1u8, 0x80] {
                let mut bad = good.clone();
                bad[i] = bad[i].wrapping_add(delta);
                if let Some(p) = Pairs::parse(&bad) {
                    // A changed key or value byte is still a well-formed map.
                    assert_eq!(p.len(), 4);
                    assert_eq!(p.iter().count(), 4);
                }
            }
        }
        assert!(Pairs::parse(&[0xff, 0xff, 0xff, 0xff]).is_none());
    }
}
