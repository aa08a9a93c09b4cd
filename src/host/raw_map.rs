//! The whole header map as the host serializes it, in one buffer: `proxy_get_header_map_pairs`
//! called directly. The SDK's `get_map_bytes` makes the same call, then copies every name and
//! value into its own allocation (two per header, each with a UTF-8 check); the filter reads a
//! handful of them, in place ([`super::pairs::Pairs`]).
#![allow(unsafe_code)] // One ABI call and taking ownership of the buffer it returns, as the SDK does.

use proxy_wasm::types::MapType;

#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_get_header_map_pairs(map_type: u32, return_map_data: *mut *mut u8, return_map_size: *mut usize) -> u32;
}

/// The serialized map, `Ok(None)` when the host returns nothing, or the host's status code.
pub fn header_map_bytes(kind: MapType) -> Result<Option<Vec<u8>>, u32> {
    let mut data: *mut u8 = std::ptr::null_mut();
    let mut size: usize = 0;
    // SAFETY: the host writes a pointer and a size to the two locals; on success the pointer is
    // null or a block the host allocated in this VM through `proxy_on_memory_allocate` (a boxed
    // `[u8]` of exactly `size` bytes), which we now own, as the SDK's own readers do.
    match unsafe { proxy_get_header_map_pairs(kind as u32, &mut data, &mut size) } {
        0 if data.is_null() => Ok(None),
        0 => Ok(Some(unsafe { Vec::from_raw_parts(data, size, size) })),
        status => Err(status),
    }
}
