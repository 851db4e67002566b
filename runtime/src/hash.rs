/// A 128-bit hash of `bytes` (two multiply-xor lanes over 8-byte words; several GB/s, so a 23 MB
/// graph is hashed in a few milliseconds at every start).
pub fn fast_hash(bytes: &[u8]) -> u128 {
    const P1: u64 = 0x9E37_79B9_7F4A_7C15;
    const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
    let (mut a, mut b) = (0x243F_6A88_85A3_08D3u64 ^ bytes.len() as u64, 0x1319_8A2E_0370_7344u64);
    let mut chunks = bytes.chunks_exact(16);
    for c in &mut chunks {
        // chunks_exact(16) yields 16-byte slices: both halves are 8 bytes.
        let x = u64::from_le_bytes(c[..8].try_into().unwrap_or([0; 8]));
        let y = u64::from_le_bytes(c[8..].try_into().unwrap_or([0; 8]));
        a = (a ^ x).wrapping_mul(P1).rotate_left(31);
        b = (b ^ y).wrapping_mul(P2).rotate_left(29);
    }
    for (i, &byte) in chunks.remainder().iter().enumerate() {
        if i % 2 == 0 {
            a = (a ^ u64::from(byte)).wrapping_mul(P1);
        } else {
            b = (b ^ u64::from(byte)).wrapping_mul(P2);
        }
    }
    let mix = |mut h: u64| {
        h ^= h >> 33;
        h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        h ^= h >> 33;
        h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
        h ^ (h >> 33)
    };
    let (ma, mb) = (mix(a ^ b.rotate_left(17)), mix(b ^ a.rotate_left(41)));
    (u128::from(ma) << 64) | u128::from(mb)
}
