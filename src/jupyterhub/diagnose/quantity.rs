//! Kubernetes resource quantities (`"8Gi"`, `"500m"`, `"1.5"`, `"2G"`, `"1e3"`)
//! turned into whole numbers, and the choice of a node pool that can hold a pod.
//!
//! The diagnosis needs exact arithmetic ("does a 7.5Gi request fit in 7.4Gi
//! free?"), so values are computed in integers and rounded *up*, as the
//! Kubernetes scheduler does.

use super::PoolCapacity;

/// Millicores in a CPU quantity (`"500m"` → 500, `"1.5"` → 1500, `"2"` → 2000).
/// `None` when the string is not a Kubernetes quantity.
pub fn cpu_millis(quantity: &str) -> Option<i64> {
    scaled(quantity, 3)
}

/// Bytes in a memory quantity (`"8Gi"` → 8·2³⁰, `"2G"` → 2·10⁹, `"512Mi"`).
/// `None` when the string is not a Kubernetes quantity.
pub fn bytes(quantity: &str) -> Option<i64> {
    scaled(quantity, 0)
}

/// The value of `quantity` times 10^`exp10`, rounded up to an integer.
fn scaled(quantity: &str, exp10: i32) -> Option<i64> {
    let s = quantity.trim();
    let (sign, s) = match s.strip_prefix('-') {
        Some(rest) => (-1i128, rest),
        None => (1i128, s.strip_prefix('+').unwrap_or(s)),
    };
    let num_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(num_end);
    if number.is_empty() || number == "." || number.matches('.').count() > 1 {
        return None;
    }
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    let digits = format!("{int_part}{frac_part}");
    let mut mantissa: i128 = digits.parse().ok()?;
    // mantissa · 2^bin · 10^dec
    let mut dec: i32 = -(frac_part.len() as i32) + exp10;
    let bin: u32 = match suffix {
        "Ki" => 10,
        "Mi" => 20,
        "Gi" => 30,
        "Ti" => 40,
        "Pi" => 50,
        "Ei" => 60,
        _ => 0,
    };
    if bin == 0 {
        dec += match suffix {
            "" => 0,
            "n" => -9,
            "u" => -6,
            "m" => -3,
            "k" => 3,
            "M" => 6,
            "G" => 9,
            "T" => 12,
            "P" => 15,
            "E" => 18,
            other => {
                let exp = other.strip_prefix(['e', 'E'])?;
                if exp.is_empty() {
                    return None;
                }
                exp.parse::<i32>().ok()?
            }
        };
    }
    mantissa = mantissa.checked_mul(1i128.checked_shl(bin)?)?;
    let value = if dec >= 0 {
        mantissa.checked_mul(10i128.checked_pow(dec as u32)?)?
    } else {
        let div = 10i128.checked_pow((-dec) as u32)?;
        // round up (away from zero for the magnitude)
        (mantissa + div - 1) / div
    };
    i64::try_from(sign * value).ok()
}

/// The node pool whose largest free node can hold a pod requesting `cpu_m`
/// millicores and `memory` bytes, so a "does not fit" diagnosis can say where
/// it *would* fit. Pools without a ready node are skipped; among the pools that
/// fit, the tightest fit (least free memory, then cpu) wins so a small server is
/// not sent to the biggest machines. `None`: no ready node has that much free
/// right now; [`fit`](super::fit()) also weighs new nodes and the autoscaler.
pub fn pool_that_fits(pools: &[PoolCapacity], cpu_m: i64, memory: i64) -> Option<String> {
    pools
        .iter()
        .filter(|p| p.nodes_ready > 0)
        .filter(|p| p.largest_free_cpu_m >= cpu_m && p.largest_free_memory >= memory)
        .min_by_key(|p| (p.largest_free_memory, p.largest_free_cpu_m))
        .map(|p| p.name.clone())
}

/// `8589934592` → `"8Gi"`, `1500000000` → `"1.4Gi"`: a size a person reads.
pub fn human_bytes(b: i64) -> String {
    const UNITS: [&str; 5] = ["", "Ki", "Mi", "Gi", "Ti"];
    let mut v = b as f64;
    let mut unit = 0;
    while v.abs() >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if (v - v.round()).abs() < 0.05 {
        format!("{}{}", v.round() as i64, UNITS[unit])
    } else {
        format!("{v:.1}{}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(name: &str, cpu: i64, mem: &str, ready: usize) -> PoolCapacity {
        PoolCapacity {
            name: name.into(),
            largest_free_cpu_m: cpu,
            largest_free_memory: bytes(mem).unwrap(),
            nodes_ready: ready,
            nodes: ready.max(1),
            ..Default::default()
        }
    }

    #[test]
    fn cpu_quantities_become_millicores() {
        assert_eq!(cpu_millis("500m"), Some(500));
        assert_eq!(cpu_millis("1.5"), Some(1500));
        assert_eq!(cpu_millis("2"), Some(2000));
        assert_eq!(cpu_millis("0.1"), Some(100));
        assert_eq!(cpu_millis("100u"), Some(1), "sub-millicore rounds up");
        assert_eq!(cpu_millis("1e3"), Some(1_000_000));
    }

    #[test]
    fn memory_quantities_become_bytes_binary_and_decimal() {
        assert_eq!(bytes("8Gi"), Some(8 << 30));
        assert_eq!(bytes("512Mi"), Some(512 << 20));
        assert_eq!(bytes("2G"), Some(2_000_000_000));
        assert_eq!(bytes("1.5Gi"), Some(3 << 29));
        assert_eq!(bytes("128974848"), Some(128_974_848));
        assert_eq!(bytes("129e6"), Some(129_000_000));
        assert_eq!(bytes("123k"), Some(123_000));
        assert_eq!(bytes("1Ki"), Some(1024));
    }

    #[test]
    fn garbage_is_not_a_quantity() {
        for bad in ["", "Gi", "8GB", "1.2.3", "abc", "8 Gi", "e3", "1e"] {
            assert_eq!(bytes(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn tightest_ready_pool_that_fits_is_chosen() {
        let pools = [
            pool("huge", 60_000, "240Gi", 1),
            pool("small", 3_500, "12Gi", 2),
            pool("medium", 7_500, "28Gi", 1),
            pool("broken", 60_000, "16Gi", 0),
        ];
        assert_eq!(
            pool_that_fits(&pools, 1000, 8 << 30).as_deref(),
            Some("small")
        );
        assert_eq!(
            pool_that_fits(&pools, 1000, 14 << 30).as_deref(),
            Some("medium")
        );
        assert_eq!(
            pool_that_fits(&pools, 4000, 1 << 30).as_deref(),
            Some("medium")
        );
        assert_eq!(pool_that_fits(&pools, 1000, 500 << 30), None);
    }

    proptest::proptest! {
        #[test]
        fn binary_and_decimal_suffixes_scale_exactly(n in 0i64..1_000_000) {
            proptest::prop_assert_eq!(bytes(&format!("{n}Mi")), Some(n << 20));
            proptest::prop_assert_eq!(bytes(&format!("{n}k")), Some(n * 1000));
            proptest::prop_assert_eq!(cpu_millis(&format!("{n}m")), Some(n));
            proptest::prop_assert_eq!(cpu_millis(&n.to_string()), Some(n * 1000));
        }
    }

    #[test]
    fn sizes_are_printed_for_people() {
        assert_eq!(human_bytes(8 << 30), "8Gi");
        assert_eq!(human_bytes(3 << 29), "1.5Gi");
        assert_eq!(human_bytes(512), "512");
    }
}
