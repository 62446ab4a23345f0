//! Arbitrary bytes, with and without the formats' magic numbers in front:
//! an answer, never a panic.

use daehwa_hwp::{is_hwp, is_hwpx, read_hwp, read_hwpx, Limits};
use proptest::prelude::*;

const OLE_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

proptest! {
    #[test]
    fn arbitrary_bytes(prefix in 0usize..3, body in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let mut file = match prefix {
            0 => Vec::new(),
            1 => OLE_MAGIC.to_vec(),
            _ => b"PK\x03\x04".to_vec(),
        };
        file.extend(body);
        let limits = Limits { max_text_bytes: 1 << 16, max_unpacked_bytes: 1 << 20 };
        let _ = is_hwp(&file);
        let _ = is_hwpx(&file);
        let _ = read_hwp(&file, &limits);
        let _ = read_hwpx(&file, &limits);
    }
}
