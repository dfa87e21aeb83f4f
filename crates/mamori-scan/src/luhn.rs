//! Check-digit algorithms: Luhn (card numbers) and EAN-13 (JAN product codes, a common look-alike).

/// Returns true when `digits` (values 0..=9, most significant first) pass the Luhn check.
///
/// Hand-written: it is a six-line loop on the hot path and must work on digit values
/// gathered from ASCII, full-width and UTF-16 text without building a string.
pub fn luhn_valid(digits: &[u8]) -> bool {
    // Doubled digit with its digits summed; sixteen entries so that the index needs no check.
    const DOUBLED: [u8; 16] = [0, 2, 4, 6, 8, 1, 3, 5, 7, 9, 0, 0, 0, 0, 0, 0];
    if digits.is_empty() {
        return false;
    }
    // Pairs from the right: the right digit of each pair is taken as it is, the left one doubled.
    let mut pairs = digits.rchunks_exact(2);
    let mut sum = 0u32;
    for p in &mut pairs {
        sum += u32::from(p[1]) + u32::from(DOUBLED[usize::from(p[0] & 15)]);
    }
    if let [first] = pairs.remainder() {
        sum += u32::from(*first);
    }
    sum.is_multiple_of(10)
}

/// Like [`luhn_valid`], on ASCII digits (`b'0'..=b'9'`) as they are in the data.
pub fn luhn_valid_ascii(digits: &[u8]) -> bool {
    const DOUBLED: [u8; 16] = [0, 2, 4, 6, 8, 1, 3, 5, 7, 9, 0, 0, 0, 0, 0, 0];
    if digits.is_empty() {
        return false;
    }
    let v = |b: u8| b.wrapping_sub(b'0') & 15;
    let mut pairs = digits.rchunks_exact(2);
    let mut sum = 0u32;
    for p in &mut pairs {
        sum += u32::from(v(p[1])) + u32::from(DOUBLED[usize::from(v(p[0]))]);
    }
    if let [first] = pairs.remainder() {
        sum += u32::from(v(*first));
    }
    sum.is_multiple_of(10)
}

/// The Luhn check digit that makes `payload` followed by it a valid number.
pub fn luhn_check_digit(payload: &[u8]) -> u8 {
    let mut sum = 0u32;
    // The check digit will sit at position 0 from the right, so payload digits start at 1.
    for (i, &d) in payload.iter().rev().enumerate() {
        let mut v = u32::from(d);
        if i % 2 == 0 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    ((10 - (sum % 10)) % 10) as u8
}

/// Returns true when 13 `digits` form a valid EAN-13 / JAN code (weights 1,3 from the left).
pub fn ean13_valid(digits: &[u8]) -> bool {
    if digits.len() != 13 {
        return false;
    }
    let mut sum = 0u32;
    for (i, &d) in digits[..12].iter().enumerate() {
        sum += u32::from(d) * if i % 2 == 0 { 1 } else { 3 };
    }
    (10 - (sum % 10)) % 10 == u32::from(digits[12])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ds(s: &str) -> Vec<u8> {
        s.bytes().map(|b| b - b'0').collect()
    }

    #[test]
    fn known_values() {
        assert!(luhn_valid(&ds("79927398713")));
        assert!(!luhn_valid(&ds("79927398710")));
        assert!(luhn_valid(&ds("4111111111111111")));
        assert!(!luhn_valid(&ds("4111111111111112")));
        assert!(luhn_valid(&ds("378282246310005")));
        assert!(!luhn_valid(&[]));
        assert!(luhn_valid(&ds("0")));
    }

    #[test]
    fn ean13_known() {
        assert!(ean13_valid(&ds("4901234567894")));
        assert!(!ean13_valid(&ds("4901234567890")));
        assert!(!ean13_valid(&ds("490123456789")));
    }

    /// The textbook statement of the check, as a reference for the pairwise version.
    fn luhn_textbook(digits: &[u8]) -> bool {
        let sum: u32 = digits
            .iter()
            .rev()
            .enumerate()
            .map(|(i, &d)| {
                let v = u32::from(d) * if i % 2 == 1 { 2 } else { 1 };
                v / 10 + v % 10
            })
            .sum();
        !digits.is_empty() && sum.is_multiple_of(10)
    }

    proptest! {
        #[test]
        fn agrees_with_textbook(d in proptest::collection::vec(0u8..10, 0..25)) {
            prop_assert_eq!(luhn_valid(&d), luhn_textbook(&d));
            let ascii: Vec<u8> = d.iter().map(|v| b'0' + v).collect();
            prop_assert_eq!(luhn_valid_ascii(&ascii), luhn_textbook(&d));
        }

        #[test]
        fn check_digit_makes_valid(payload in proptest::collection::vec(0u8..10, 1..30)) {
            let mut full = payload.clone();
            full.push(luhn_check_digit(&payload));
            prop_assert!(luhn_valid(&full));
        }

        #[test]
        fn single_digit_change_is_detected(payload in proptest::collection::vec(0u8..10, 12..19), pos in 0usize..19, delta in 1u8..10) {
            let mut full = payload.clone();
            full.push(luhn_check_digit(&payload));
            let pos = pos % full.len();
            full[pos] = (full[pos] + delta) % 10;
            prop_assert!(!luhn_valid(&full));
        }

        #[test]
        fn adjacent_transposition_mostly_detected(payload in proptest::collection::vec(0u8..10, 12..19), pos in 0usize..18) {
            let mut full = payload.clone();
            full.push(luhn_check_digit(&payload));
            let pos = pos % (full.len() - 1);
            let (a, b) = (full[pos], full[pos + 1]);
            // Luhn misses only the 09 <-> 90 swap.
            prop_assume!(a != b && !((a == 0 && b == 9) || (a == 9 && b == 0)));
            full.swap(pos, pos + 1);
            prop_assert!(!luhn_valid(&full));
        }
    }
}
