//! Run-time dispatch of elementwise kernels to the widest vector unit of the CPU (AVX-512F or
//! AVX2 on x86-64, plain code elsewhere). A kernel is written once as an `#[inline(always)]`
//! function; [`simd_variants!`] compiles it again under each target feature and [`dispatch!`]
//! picks the variant at run time. The variants perform the same IEEE operations in the same
//! order (Rust never fuses a multiply and an add on its own), so results are bit-identical on
//! every path.

/// Defines `$avx512` and `$avx2`: `$generic` compiled with those target features.
macro_rules! simd_variants {
    ($generic:ident, $avx512:ident, $avx2:ident, ($($arg:ident: $ty:ty),*) -> $ret:ty) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f")]
        fn $avx512($($arg: $ty),*) -> $ret {
            $generic($($arg),*)
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2")]
        fn $avx2($($arg: $ty),*) -> $ret {
            $generic($($arg),*)
        }
    };
}

/// Returns the value of the best variant for this CPU (an early `return` from the caller).
macro_rules! dispatch {
    ($generic:ident, $avx512:ident, $avx2:ident, ($($arg:expr),*)) => {{
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                #[allow(unsafe_code, reason = "the CPU was just checked to support AVX-512F")]
                // SAFETY: avx512f is available on this CPU.
                return unsafe { $avx512($($arg),*) };
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                #[allow(unsafe_code, reason = "the CPU was just checked to support AVX2")]
                // SAFETY: avx2 is available on this CPU.
                return unsafe { $avx2($($arg),*) };
            }
        }
        $generic($($arg),*)
    }};
}

pub(crate) use {dispatch, simd_variants};
