//! The digit-run finder: the hot loop that turns bytes into card-number candidates.
//!
//! Three passes look at the same buffer, each with its own fast path:
//! * ASCII digits (also UTF-8 text): bytes are classified 64 at a time into bitmaps (SSE2 on
//!   x86, SWAR elsewhere), and only runs with a place where a card number could start (a digit
//!   group opening with `2`-`6`, not `20`/`21`, followed by 13 digit-or-separator bytes) are
//!   judged, mostly from the bitmaps; dates, timestamps and short numbers cost no byte-by-byte look;
//! * full-width digits (`０`-`９`, U+FF10-FF19) and separators, found by their `EF BC` lead bytes;
//! * UTF-16 (both byte orders), only for buffers that contain a NUL byte.
//!
//! Every pass works on a slice that may end in the middle of a run. It then returns a resume
//! point (the start of the unfinished run) so that the caller can carry those bytes over to the
//! next read; runs split across read buffers are found whole.

use crate::issuer::{brand_by_prefix, brand_of, Brand};
use crate::luhn::{luhn_valid, luhn_valid_ascii};
use serde::Serialize;

/// Fewest digits in a card number.
pub const MIN_DIGITS: usize = 13;
/// Most digits in a card number.
pub const MAX_DIGITS: usize = 19;
/// Bytes after a run that must be in the buffer before the run is judged (for context).
pub const CTX_AFTER: usize = 48;
/// Consecutive separator characters that still join two digit groups.
const MAX_JOINING_SEPARATORS: u8 = 2;

/// How the digits of a finding were encoded in the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TextEncoding {
    /// ASCII digits (plain text, UTF-8, Latin-1, Shift_JIS ...).
    Ascii,
    /// UTF-8 with full-width digits or separators.
    FullWidth,
    /// UTF-16 little-endian.
    Utf16le,
    /// UTF-16 big-endian.
    Utf16be,
}

/// A digit run that passed the Luhn check and matches an issuer range.
///
/// `Debug` shows the masked form only: the full number must never reach a log line.
#[derive(Clone, Copy)]
pub struct Candidate {
    /// Byte offset of the first digit in the scanned slice.
    pub start: usize,
    /// Byte offset just after the last digit.
    pub end: usize,
    digits: [u8; MAX_DIGITS],
    len: u8,
    /// The issuer brand.
    pub brand: Brand,
    /// How the digits were encoded.
    pub encoding: TextEncoding,
    /// Whether separators stood between digit groups.
    pub separated: bool,
    /// Whether the grouping is the one the brand prints (or there was none).
    pub standard_grouping: bool,
}

impl Candidate {
    /// The digit values (0..=9). Keep them in memory only; never print them.
    pub fn digits(&self) -> &[u8] {
        &self.digits[..usize::from(self.len)]
    }

    /// First six and last four digits, the rest masked: `411111******1111`.
    pub fn masked(&self) -> String {
        mask_digits(self.digits())
    }
}

impl std::fmt::Debug for Candidate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Candidate")
            .field("start", &self.start)
            .field("end", &self.end)
            .field("masked", &self.masked())
            .field("brand", &self.brand)
            .field("encoding", &self.encoding)
            .finish()
    }
}

/// Masks digit values to first six and last four.
pub fn mask_digits(d: &[u8]) -> String {
    let n = d.len();
    d.iter()
        .enumerate()
        .map(|(i, &v)| {
            if i < 6 || i + 4 >= n {
                char::from(b'0' + v)
            } else {
                '*'
            }
        })
        .collect()
}

/// Byte classes for the ASCII pass: 0 other, 1 digit, 2 separator.
const OTHER: u8 = 0;
const DIGIT: u8 = 1;
const SEP: u8 = 2;

static ASCII_CLASS: [u8; 256] = {
    let mut t = [OTHER; 256];
    let mut c = b'0';
    while c <= b'9' {
        t[c as usize] = DIGIT;
        c += 1;
    }
    t[b' ' as usize] = SEP;
    t[b'-' as usize] = SEP;
    t
};

#[derive(Clone, Copy)]
struct Group {
    dstart: u32,
    dlen: u32,
    bstart: usize,
    bend: usize,
    joined: bool,
}

/// Reusable scratch space that splits one run into digit groups and picks the card-shaped spans.
#[derive(Default)]
pub struct RunBuilder {
    digits: Vec<u8>,
    groups: Vec<Group>,
    pending_sep: u8,
    spans: Vec<(usize, usize, u8, Brand)>,
    taken: Vec<bool>,
    class_bits: Vec<Masks>,
}

impl RunBuilder {
    fn clear(&mut self) {
        self.digits.clear();
        self.groups.clear();
        self.pending_sep = 0;
    }

    #[inline]
    fn digit(&mut self, v: u8, bstart: usize, bend: usize) {
        if self.pending_sep == 0 {
            if let Some(g) = self.groups.last_mut() {
                g.dlen += 1;
                g.bend = bend;
                self.digits.push(v);
                return;
            }
        }
        let joined = !self.groups.is_empty() && self.pending_sep <= MAX_JOINING_SEPARATORS;
        self.groups.push(Group {
            dstart: self.digits.len() as u32,
            dlen: 1,
            bstart,
            bend,
            joined,
        });
        self.digits.push(v);
        self.pending_sep = 0;
    }

    #[inline]
    fn sep(&mut self) {
        self.pending_sep = self.pending_sep.saturating_add(1);
    }

    /// Evaluates the groups gathered so far and appends the chosen candidates to `out`.
    fn finish(
        &mut self,
        hay: &[u8],
        encoding: TextEncoding,
        require_wide: bool,
        out: &mut Vec<Candidate>,
    ) {
        if self.digits.len() < MIN_DIGITS {
            return;
        }
        self.spans.clear();
        let m = self.groups.len();
        for i in 0..m {
            let gi = self.groups[i];
            if gi.dlen as usize > MAX_DIGITS {
                continue;
            }
            let mut total = 0usize;
            for j in i..m {
                let gj = self.groups[j];
                if j > i && !gj.joined {
                    break;
                }
                total += gj.dlen as usize;
                if total > MAX_DIGITS {
                    break;
                }
                if total < MIN_DIGITS {
                    continue;
                }
                let ds = gi.dstart as usize;
                let d = &self.digits[ds..ds + total];
                let Some(brand) = brand_of(d) else { continue };
                if !luhn_valid(d) {
                    continue;
                }
                if require_wide && hay[gi.bstart..gj.bend].is_ascii() {
                    // Pure ASCII spans belong to the ASCII pass.
                    continue;
                }
                let mut lens = [0u8; MAX_DIGITS];
                for (k, g) in self.groups[i..=j].iter().enumerate() {
                    lens[k] = g.dlen as u8;
                }
                let standard = brand.is_standard_grouping(&lens[..=j - i]);
                // Rank: standard grouping first, then longer numbers.
                let rank = (u8::from(standard) << 5) | total as u8;
                self.spans.push((i, j, rank, brand));
            }
        }
        if self.spans.is_empty() {
            return;
        }
        self.spans.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
        self.taken.clear();
        self.taken.resize(m, false);
        for &(i, j, rank, brand) in &self.spans {
            if self.taken[i..=j].iter().any(|&t| t) {
                continue;
            }
            self.taken[i..=j].iter_mut().for_each(|t| *t = true);
            let (gi, gj) = (self.groups[i], self.groups[j]);
            let ds = gi.dstart as usize;
            let total = (gj.dstart + gj.dlen) as usize - ds;
            let mut digits = [0u8; MAX_DIGITS];
            digits[..total].copy_from_slice(&self.digits[ds..ds + total]);
            out.push(Candidate {
                start: gi.bstart,
                end: gj.bend,
                digits,
                len: total as u8,
                brand,
                encoding,
                separated: i != j,
                standard_grouping: rank & (1 << 5) != 0,
            });
        }
    }
}

/// ASCII pass over `hay[from..]`. Returns where the next call (with more data appended) must resume.
///
/// Hand-written rather than a regex: bytes are classified 64 at a time into bitmaps, and only
/// places where 13 digit-or-separator bytes follow each other are looked at. Those runs are
/// then judged from the bitmaps (digit count, one plain group or several, issuer prefix) and
/// only the few that can still hold a card number are looked at byte by byte.
pub fn ascii_pass(
    hay: &[u8],
    from: usize,
    eof: bool,
    rb: &mut RunBuilder,
    out: &mut Vec<Candidate>,
) -> usize {
    let mut bits = std::mem::take(&mut rb.class_bits);
    let n = hay.len();
    let mut pos = from;
    let mut window = ASCII_WINDOW;
    // Windows keep the bitmaps (3/8 of the window size) in the core's cache. Each window is a
    // pass that ends without end of data, exactly as a streaming read does, so runs that cross
    // a window edge are resumed whole in the next one.
    let r = loop {
        let end = pos.saturating_add(window);
        if end >= n {
            break ascii_pass_inner(hay, pos, eof, rb, out, &mut bits);
        }
        let r = ascii_pass_inner(&hay[..end], pos, false, rb, out, &mut bits);
        if r > pos {
            pos = r;
            window = ASCII_WINDOW;
        } else {
            // One run fills the window: widen it until the run ends.
            window = window.saturating_mul(2);
        }
    };
    rb.class_bits = bits;
    r
}

/// Bytes classified at a time by the ASCII pass.
const ASCII_WINDOW: usize = 1 << 18;

/// Class bitmaps of 64 bytes; bit k is byte k.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
struct Masks {
    /// Digit or separator.
    class: u64,
    /// Digit.
    digit: u64,
    /// Digit `2` to `6` (the first digit of every issuer range), except a `2` followed by `0`
    /// or `1` (no issuer range starts `20` or `21`; every date and timestamp of this century
    /// does). The last byte of the data is taken as followed by nothing.
    lead: u64,
}

/// Class bitmaps of a slice, one [`Masks`] per 64 bytes. The last word is an all-zero sentinel
/// so that run ends are found without a length check.
struct Bits<'a>(&'a [Masks]);

impl Bits<'_> {
    /// First position at or after `p` that is not a digit or separator.
    #[inline]
    fn run_end(&self, p: usize) -> usize {
        let mut w = p >> 6;
        let mut word = !self.0[w].class & (u64::MAX << (p & 63));
        while word == 0 {
            w += 1;
            word = !self.0[w].class;
        }
        (w << 6) + word.trailing_zeros() as usize
    }

    /// Start of the run that contains `q`, not before `floor`.
    #[inline]
    fn run_start(&self, q: usize, floor: usize) -> usize {
        let mut w = q >> 6;
        let mut word = !self.0[w].class & ((1u64 << (q & 63)) - 1);
        loop {
            if word != 0 {
                return ((w << 6) + 64 - word.leading_zeros() as usize).max(floor);
            }
            if w == 0 || (w << 6) <= floor {
                return floor;
            }
            w -= 1;
            word = !self.0[w].class;
        }
    }

    /// Digit mask of word `w` limited to positions `s..e`.
    #[inline]
    fn digits_word(&self, w: usize, s: usize, e: usize) -> u64 {
        let mut m = self.0[w].digit;
        if w == s >> 6 {
            m &= u64::MAX << (s & 63);
        }
        if w == (e - 1) >> 6 && (e & 63) != 0 {
            m &= (1u64 << (e & 63)) - 1;
        }
        m
    }

    /// Digit mask of `s..e` (`s < e <= s + 64`), shifted so that bit 0 is byte `s`.
    #[inline(always)]
    fn digit_window(&self, s: usize, e: usize) -> u64 {
        let (w, k) = (s >> 6, s & 63);
        let lo = self.0[w].digit >> k;
        // The sentinel word makes `w + 1` valid whenever `s` is inside the data.
        let hi = if k == 0 {
            0
        } else {
            self.0[w + 1].digit << (64 - k)
        };
        let len = e - s;
        let keep = if len == 64 {
            u64::MAX
        } else {
            (1u64 << len) - 1
        };
        (lo | hi) & keep
    }

    /// Number of digits in `s..e` (`s < e`).
    #[inline]
    fn digits_in(&self, s: usize, e: usize) -> usize {
        ((s >> 6)..=((e - 1) >> 6))
            .map(|w| self.digits_word(w, s, e).count_ones() as usize)
            .sum()
    }

    /// First digit in `s..e`, if any.
    #[inline]
    fn first_digit(&self, s: usize, e: usize) -> Option<usize> {
        ((s >> 6)..=((e - 1) >> 6)).find_map(|w| {
            let m = self.digits_word(w, s, e);
            (m != 0).then(|| (w << 6) + m.trailing_zeros() as usize)
        })
    }

    /// Last digit in `s..e`, if any.
    #[inline]
    fn last_digit(&self, s: usize, e: usize) -> Option<usize> {
        ((s >> 6)..=((e - 1) >> 6)).rev().find_map(|w| {
            let m = self.digits_word(w, s, e);
            (m != 0).then(|| (w << 6) + 63 - m.leading_zeros() as usize)
        })
    }

    /// Calls `f` with each digit in `s..e` that does not follow a digit (each group start).
    /// Stops when `f` returns true, and returns whether it did.
    #[inline]
    fn any_group_start(&self, s: usize, e: usize, mut f: impl FnMut(usize) -> bool) -> bool {
        for w in (s >> 6)..=((e - 1) >> 6) {
            let prev_top = if w > 0 { self.0[w - 1].digit >> 63 } else { 0 };
            let d = self.0[w].digit;
            let mut starts = self.digits_word(w, s, e) & !((d << 1) | prev_top);
            while starts != 0 {
                if f((w << 6) + starts.trailing_zeros() as usize) {
                    return true;
                }
                starts &= starts - 1;
            }
        }
        false
    }
}

fn ascii_pass_inner(
    hay: &[u8],
    from: usize,
    eof: bool,
    rb: &mut RunBuilder,
    out: &mut Vec<Candidate>,
    bits: &mut Vec<Masks>,
) -> usize {
    let n = hay.len();
    if from >= n {
        return n;
    }
    let base = from;
    let len = n - from;
    bits.clear();
    classify(&hay[from..], bits);
    bits.push(Masks::default());
    let bits = Bits(&bits[..]);
    let words = bits.0.len() - 1;
    let mut next = 0usize;
    let mut prev_top = 0u64;
    for w in 0..words {
        let wstart = w << 6;
        let m = bits.0[w];
        // A card number starts a digit group (no digit before it) with a digit from 2 to 6 (and
        // not `20` or `21`), and 13 digits or more, so 13 digit-or-separator bytes, follow. Runs
        // without such a place hold no card number: dates, timestamps and most order numbers.
        let mut starts = m.lead & !((m.digit << 1) | prev_top);
        prev_top = m.digit >> 63;
        if next > wstart {
            if wstart + 64 <= next {
                continue;
            }
            starts &= u64::MAX << (next - wstart);
        }
        if starts == 0 {
            continue;
        }
        // Bit k set: bytes k..k+13 (relative to this word) are all digits or separators.
        let x = u128::from(m.class) | (u128::from(bits.0[w + 1].class) << 64);
        let mut r = x & (x >> 1);
        r &= r >> 2;
        r &= r >> 4;
        r &= r >> 5;
        starts &= r as u64;
        while starts != 0 {
            let k = starts.trailing_zeros();
            let q = wstart + k as usize;
            let s = bits.run_start(q, next);
            let e = bits.run_end(q + MIN_DIGITS).min(len);
            if !eof && base + e + CTX_AFTER > n {
                return base + s;
            }
            judge_ascii_run(hay, &bits, base, s, e, rb, out);
            next = e + 1;
            if next >= wstart + 64 {
                break;
            }
            starts &= u64::MAX << (next - wstart);
        }
    }
    if eof {
        return n;
    }
    // A short run at the very end may grow with the next read.
    base + bits.run_start(len, next)
}

/// The first four digits from `k` on (separators skipped, not past `end`) as a number, when
/// there are four.
#[inline]
fn prefix4(hay: &[u8], mut k: usize, end: usize) -> Option<u32> {
    let mut p4 = 0u32;
    let mut got = 0;
    while got < 4 && k < end {
        let b = hay[k];
        if b.is_ascii_digit() {
            p4 = p4 * 10 + u32::from(b - b'0');
            got += 1;
        }
        k += 1;
    }
    (got == 4).then_some(p4)
}

/// Judges one run of digit and separator bytes, `base + s .. base + e` in `hay`.
///
/// Most runs in shop data are dates, order and tracking numbers, timestamps and JAN codes, so
/// the cheap tests come first: 13 digits in the run (a popcount), then an issuer prefix where a
/// card number could start. Only runs that pass go to the byte-by-byte group machinery.
#[inline]
fn judge_ascii_run(
    hay: &[u8],
    bits: &Bits<'_>,
    base: usize,
    s: usize,
    e: usize,
    rb: &mut RunBuilder,
    out: &mut Vec<Candidate>,
) {
    let may_hold = if e - s <= 64 {
        // The common case: the run's digit mask fits one word, so everything is bit arithmetic.
        let d = bits.digit_window(s, e);
        if d == 0 {
            return;
        }
        let a = d.trailing_zeros() as usize;
        let z = 63 - d.leading_zeros() as usize;
        let g = d >> a;
        if g & g.wrapping_add(1) == 0 {
            // One plain group of digits (separators only around it): the digit bits are
            // contiguous, so their count is the span, and no popcount is needed.
            if (MIN_DIGITS..=MAX_DIGITS).contains(&(z + 1 - a)) {
                plain_candidate(hay, base + s + a, base + s + z + 1, out);
            }
            return;
        }
        let ndig = d.count_ones() as usize;
        if ndig < MIN_DIGITS {
            return;
        }
        separated_span_may_pass(&hay[base + s..base + e], d)
    } else {
        let ndig = bits.digits_in(s, e);
        if ndig < MIN_DIGITS {
            return;
        }
        let (Some(a), Some(z)) = (bits.first_digit(s, e), bits.last_digit(s, e)) else {
            return;
        };
        if z + 1 - a == ndig {
            if ndig <= MAX_DIGITS {
                plain_candidate(hay, base + a, base + z + 1, out);
            }
            return;
        }
        let mut before = 0usize;
        let mut last = a;
        bits.any_group_start(a, z + 1, |g| {
            if g > last {
                before += bits.digits_in(last, g);
                last = g;
            }
            ndig - before >= MIN_DIGITS
                && prefix4(hay, base + g, base + e).is_some_and(|p| brand_by_prefix(p).is_some())
        })
    };
    if !may_hold {
        return;
    }
    let (abs_s, abs_e) = (base + s, base + e);
    rb.clear();
    for (j, &b) in hay[abs_s..abs_e].iter().enumerate() {
        if b.is_ascii_digit() {
            rb.digit(b - b'0', abs_s + j, abs_s + j + 1);
        } else {
            rb.sep();
        }
    }
    rb.finish(hay, TextEncoding::Ascii, false, out);
}

/// Whether a run of digit groups (`run`, at most 64 bytes, with digit mask `d`) holds a span of
/// whole groups joined by at most two separators that passes the issuer and Luhn checks: the
/// spans [`RunBuilder::finish`] considers. Only such runs are handed to it, so this is exact,
/// and it costs no allocation: order, reference and tracking numbers end here.
#[inline]
fn separated_span_may_pass(run: &[u8], d: u64) -> bool {
    let starts = d & !(d << 1);
    let ends = d & !(d >> 1);
    if d.count_ones() < MIN_DIGITS as u32 {
        return false;
    }
    let mut first = starts;
    while first != 0 {
        let g = first.trailing_zeros() as usize;
        first &= first - 1;
        if (d >> g).count_ones() < MIN_DIGITS as u32 {
            break;
        }
        let Some((_, lengths)) = prefix4(run, g, run.len()).and_then(brand_by_prefix) else {
            continue;
        };
        // Walk the groups from g: each span ends at a group end.
        let mut total = 0usize;
        let mut at = g;
        loop {
            let end = (ends >> at).trailing_zeros() as usize + at;
            total += end + 1 - at;
            if total > MAX_DIGITS {
                break;
            }
            if total >= MIN_DIGITS && lengths & (1 << total) != 0 {
                let mut digits = [0u8; MAX_DIGITS];
                let mut k = 0;
                for &b in &run[g..=end] {
                    if b.is_ascii_digit() && k < MAX_DIGITS {
                        digits[k] = b - b'0';
                        k += 1;
                    }
                }
                if luhn_valid(&digits[..k]) {
                    return true;
                }
            }
            let rest = if end + 1 >= 64 {
                0
            } else {
                starts >> (end + 1)
            };
            if rest == 0 {
                break;
            }
            let next = rest.trailing_zeros() as usize + end + 1;
            if next - end - 1 > usize::from(MAX_JOINING_SEPARATORS) {
                break;
            }
            at = next;
        }
    }
    false
}

/// Checks one plain group of 13 to 19 ASCII digits, `hay[s..e]`: issuer prefix and length
/// first (from the bytes), then Luhn.
#[inline]
fn plain_candidate(hay: &[u8], s: usize, e: usize, out: &mut Vec<Candidate>) {
    let run = &hay[s..e];
    let Some(&[a, b, c, d]) = run.first_chunk::<4>() else {
        return;
    };
    let p4 = [a, b, c, d]
        .iter()
        .fold(0u32, |p, &x| p * 10 + u32::from(x.wrapping_sub(b'0')));
    let Some((brand, lengths)) = brand_by_prefix(p4) else {
        return;
    };
    if lengths & (1 << run.len()) == 0 {
        return;
    }
    // Luhn straight from the bytes: most runs that get here are JAN codes, nine in ten of which
    // fail it, so the digit values are only copied out for the rest.
    if luhn_valid_ascii(run) {
        let mut digits = [0u8; MAX_DIGITS];
        for (d, &b) in digits.iter_mut().zip(run) {
            *d = b.wrapping_sub(b'0');
        }
        out.push(Candidate {
            start: s,
            end: e,
            digits,
            len: run.len() as u8,
            brand,
            encoding: TextEncoding::Ascii,
            separated: false,
            standard_grouping: true,
        });
    }
}

/// Appends the bitmaps of `data`, 64 bytes a word, to `out`.
fn classify(data: &[u8], out: &mut Vec<Masks>) {
    out.reserve(data.len() / 64 + 2);
    let mut i = 0;
    #[cfg(all(
        any(target_arch = "x86", target_arch = "x86_64"),
        target_feature = "sse2"
    ))]
    while let Some(block) = data.get(i..i + 65) {
        // 65 bytes: the byte after the block settles the `lead` bit of its last byte.
        out.push(block_masks_sse2(block));
        i += 64;
    }
    out.extend(data[i..].chunks(64).map(block_masks_swar));
}

/// SSE2 (part of every x86-64 CPU) classifier for the first 64 of 65 bytes: about six vector
/// operations per 16 bytes and mask, against some twenty scalar ones for the SWAR version.
/// Through `safe_arch` because the workspace denies `unsafe`.
#[cfg(all(
    any(target_arch = "x86", target_arch = "x86_64"),
    target_feature = "sse2"
))]
#[inline(always)]
fn block_masks_sse2(block: &[u8]) -> Masks {
    use safe_arch::{
        add_i8_m128i, bitand_m128i, bitandnot_m128i, bitor_m128i, cmp_eq_mask_i8_m128i,
        cmp_lt_mask_i8_m128i, load_unaligned_m128i, move_mask_i8_m128i, set_splat_i8_m128i,
    };
    // b'0'..=b'9' moved to -128..=-119, b'2'..=b'6' to -128..=-124 and b'0'..=b'1' to
    // -128..=-127, so that one signed compare tests each range.
    let digit_shift = set_splat_i8_m128i(0x50);
    let digit_limit = set_splat_i8_m128i(-118);
    let low_limit = set_splat_i8_m128i(-126);
    let lead_shift = set_splat_i8_m128i(0x4E);
    let lead_limit = set_splat_i8_m128i(-123);
    let space = set_splat_i8_m128i(b' ' as i8);
    let hyphen = set_splat_i8_m128i(b'-' as i8);
    let two = set_splat_i8_m128i(b'2' as i8);
    let load = |at: usize| {
        let mut a = [0u8; 16];
        a.copy_from_slice(&block[at..at + 16]);
        load_unaligned_m128i(&a)
    };
    let mut m = Masks::default();
    for k in 0..4 {
        let x = load(16 * k);
        // The same bytes one later: the byte after each byte.
        let y = load(16 * k + 1);
        let digit = cmp_lt_mask_i8_m128i(add_i8_m128i(x, digit_shift), digit_limit);
        let lead = cmp_lt_mask_i8_m128i(add_i8_m128i(x, lead_shift), lead_limit);
        let low_next = cmp_lt_mask_i8_m128i(add_i8_m128i(y, digit_shift), low_limit);
        let twenty = bitand_m128i(cmp_eq_mask_i8_m128i(x, two), low_next);
        let sep = bitor_m128i(
            cmp_eq_mask_i8_m128i(x, space),
            cmp_eq_mask_i8_m128i(x, hyphen),
        );
        let bits = |v| u64::from(move_mask_i8_m128i(v) as u16) << (16 * k);
        m.digit |= bits(digit);
        m.lead |= bits(bitandnot_m128i(twenty, lead));
        m.class |= bits(bitor_m128i(digit, sep));
    }
    m
}

/// Portable classifier (eight bytes at a time in a `u64`), for short blocks and other CPUs.
#[inline(always)]
fn block_masks_swar(block: &[u8]) -> Masks {
    let mut m = Masks::default();
    let mut shift = 0;
    let (mut twos, mut lows) = (0u64, 0u64);
    let mut add = |w: [u8; 8], valid: u64, shift: u32| {
        let x = u64::from_le_bytes(w);
        let (cl, d, l) = class_hi(x);
        m.class |= pack_hi(cl & valid) << shift;
        m.digit |= pack_hi(d & valid) << shift;
        m.lead |= pack_hi(l & valid) << shift;
        twos |= pack_hi(eq_hi(x, b'2') & valid) << shift;
        lows |= pack_hi((eq_hi(x, b'0') | eq_hi(x, b'1')) & valid) << shift;
    };
    let mut chunks = block.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        add(w, u64::MAX, shift);
        shift += 8;
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        add(w, u64::MAX >> (64 - 8 * rest.len() as u32), shift);
    }
    m.lead &= !(twos & (lows >> 1));
    m
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// High bit set in each byte of `x` that is (an ASCII digit, space or hyphen; an ASCII digit;
/// a digit from 2 to 6).
///
/// Hand-written SWAR (eight bytes per step in a `u64`): the portable fallback of the SSE2 path.
#[inline(always)]
fn class_hi(x: u64) -> (u64, u64, u64) {
    let in_range = |lo: u64, end: u64| ((x | HI) - LO * lo) & !((x | HI) - LO * end) & !x & HI;
    let digit = in_range(0x30, 0x3A);
    (
        digit | eq_hi(x, b' ') | eq_hi(x, b'-'),
        digit,
        in_range(0x32, 0x37),
    )
}

/// High bit set in each byte of `x` equal to `b`.
#[inline(always)]
fn eq_hi(x: u64, b: u8) -> u64 {
    let y = x ^ (LO * u64::from(b));
    !((((y & !HI) + !HI) | y) | !HI)
}

/// Packs the high bits of the eight bytes into eight bits (byte i to bit i).
#[inline(always)]
fn pack_hi(hi: u64) -> u64 {
    ((hi >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56
}

/// Class of the (possibly multi-byte UTF-8) character starting at `k`: (class, digit value, width).
#[inline]
fn wide_class_at(hay: &[u8], k: usize) -> (u8, u8, usize) {
    let b = hay[k];
    if b < 0x80 {
        let c = ASCII_CLASS[usize::from(b)];
        return (c, b.wrapping_sub(b'0'), 1);
    }
    if k + 2 >= hay.len() {
        return (OTHER, 0, 1);
    }
    let (b1, b2) = (hay[k + 1], hay[k + 2]);
    match (b, b1, b2) {
        (0xEF, 0xBC, 0x90..=0x99) => (DIGIT, b2 - 0x90, 3),
        // Full-width hyphen-minus, ideographic space, katakana long vowel mark (often typed as a
        // hyphen in Japanese forms), hyphens and dashes, minus sign.
        (0xEF, 0xBC, 0x8D)
        | (0xE3, 0x80, 0x80)
        | (0xE3, 0x83, 0xBC)
        | (0xE2, 0x80, 0x90..=0x95)
        | (0xE2, 0x88, 0x92) => (SEP, 0, 3),
        _ => (OTHER, 0, 1),
    }
}

/// Class and width of the character ending just before `k`, if it is a digit or separator.
#[inline]
fn wide_class_before(hay: &[u8], k: usize) -> Option<usize> {
    if k == 0 {
        return None;
    }
    let b = hay[k - 1];
    if b < 0x80 {
        return (ASCII_CLASS[usize::from(b)] != OTHER).then_some(1);
    }
    if k >= 3 {
        let (c, _, w) = wide_class_at(hay, k - 3);
        if c != OTHER && w == 3 {
            return Some(3);
        }
    }
    None
}

/// Full-width pass: runs that contain at least one full-width digit or full-width hyphen.
pub fn fullwidth_pass(
    hay: &[u8],
    from: usize,
    eof: bool,
    rb: &mut RunBuilder,
    out: &mut Vec<Candidate>,
) -> usize {
    let n = hay.len();
    let mut next_allowed = from;
    for t in memchr::memmem::find_iter(&hay[from..], b"\xEF\xBC") {
        let t = t + from;
        if t < next_allowed {
            continue;
        }
        if t + 2 >= n {
            if eof {
                break;
            }
            return run_start(hay, t, next_allowed);
        }
        if wide_class_at(hay, t).0 == OTHER {
            continue;
        }
        let mut s = t;
        while let Some(w) = wide_class_before(hay, s) {
            s -= w;
        }
        let mut e = t;
        while e < n {
            let (c, _, w) = wide_class_at(hay, e);
            if c == OTHER {
                break;
            }
            e += w;
        }
        if !eof && e + CTX_AFTER > n {
            return s;
        }
        rb.clear();
        let mut k = s;
        while k < e {
            let (c, v, w) = wide_class_at(hay, k);
            if c == DIGIT {
                rb.digit(v, k, k + w);
            } else {
                rb.sep();
            }
            k += w;
        }
        rb.finish(hay, TextEncoding::FullWidth, true, out);
        next_allowed = e;
    }
    if eof {
        n
    } else {
        // Digits and separators at the end may join a full-width character in the next read.
        run_start(
            hay,
            n.saturating_sub(2).max(next_allowed).max(from),
            next_allowed,
        )
    }
}

/// Start of the run of digit and separator characters that ends at `k`, not before `floor`.
fn run_start(hay: &[u8], k: usize, floor: usize) -> usize {
    let mut s = k;
    while let Some(w) = wide_class_before(hay, s) {
        if s - w < floor {
            break;
        }
        s -= w;
    }
    s
}

#[inline]
fn utf16_class(u: u16) -> (u8, u8) {
    match u {
        0x30..=0x39 => (DIGIT, (u - 0x30) as u8),
        0xFF10..=0xFF19 => (DIGIT, (u - 0xFF10) as u8),
        0x20 | 0x2D | 0xFF0D | 0x3000 | 0x30FC | 0x2010..=0x2015 | 0x2212 => (SEP, 0),
        _ => (OTHER, 0),
    }
}

#[inline]
fn unit_at(hay: &[u8], j: usize, big_endian: bool) -> u16 {
    let (a, b) = (hay[j], hay[j + 1]);
    if big_endian {
        u16::from_be_bytes([a, b])
    } else {
        u16::from_le_bytes([a, b])
    }
}

/// UTF-16 pass over the code units starting at `from` (which fixes the alignment).
pub fn utf16_pass(
    hay: &[u8],
    from: usize,
    eof: bool,
    big_endian: bool,
    rb: &mut RunBuilder,
    out: &mut Vec<Candidate>,
) -> usize {
    let n = hay.len();
    let class = |j: usize| utf16_class(unit_at(hay, j, big_endian)).0;
    let encoding = if big_endian {
        TextEncoding::Utf16be
    } else {
        TextEncoding::Utf16le
    };
    let mut i = from;
    loop {
        let p = i + 2 * (MIN_DIGITS - 1);
        if p + 1 >= n {
            return if eof { n } else { i };
        }
        if class(p) == OTHER {
            i = p + 2;
            continue;
        }
        let mut s = p;
        while s >= i + 2 && class(s - 2) != OTHER {
            s -= 2;
        }
        let mut e = p + 2;
        while e + 1 < n && class(e) != OTHER {
            e += 2;
        }
        if !eof && e + 2 * CTX_AFTER + 1 >= n {
            return s;
        }
        if (e - s) / 2 >= MIN_DIGITS {
            rb.clear();
            let mut k = s;
            while k < e {
                let (c, v) = utf16_class(unit_at(hay, k, big_endian));
                if c == DIGIT {
                    rb.digit(v, k, k + 2);
                } else {
                    rb.sep();
                }
                k += 2;
            }
            rb.finish(hay, encoding, false, out);
        }
        i = e + 2;
    }
}

/// Finds all candidates in a complete in-memory slice (every pass, end of data included).
pub fn find_all(hay: &[u8]) -> Vec<Candidate> {
    let mut rb = RunBuilder::default();
    let mut out = Vec::new();
    ascii_pass(hay, 0, true, &mut rb, &mut out);
    fullwidth_pass(hay, 0, true, &mut rb, &mut out);
    if memchr::memchr(0, hay).is_some() {
        for be in [false, true] {
            for parity in 0..2 {
                utf16_pass(hay, parity, true, be, &mut rb, &mut out);
            }
        }
    }
    dedupe_overlaps(&mut out, 0);
    out
}

/// Sorts candidates by position and drops any that overlaps an earlier one. The UTF-16 pass sees
/// the same text at both alignments and byte orders; ASCII-range UTF-16 is ambiguous between
/// little-endian and big-endian read one byte apart, so the reading that starts at an even
/// stream offset (`base` is the stream offset of the slice) wins, as UTF-16 text is aligned.
pub fn dedupe_overlaps(c: &mut Vec<Candidate>, base: u64) {
    c.sort_by_key(|x| (x.start, x.end));
    let is16 = |x: &Candidate| matches!(x.encoding, TextEncoding::Utf16le | TextEncoding::Utf16be);
    let even = |x: &Candidate| (base + x.start as u64).is_multiple_of(2);
    let mut kept: Vec<Candidate> = Vec::with_capacity(c.len());
    for x in c.drain(..) {
        match kept.last_mut() {
            Some(last) if x.start < last.end => {
                if is16(last) && is16(&x) && !even(last) && even(&x) {
                    *last = x;
                }
            }
            _ => kept.push(x),
        }
    }
    *c = kept;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::luhn::luhn_check_digit;
    use proptest::prelude::*;

    fn masks(hay: &[u8]) -> Vec<String> {
        find_all(hay).iter().map(|c| c.masked()).collect()
    }

    fn fw(s: &str) -> String {
        s.chars()
            .map(|c| match c {
                '0'..='9' => char::from_u32(0xFF10 + (c as u32 - 0x30)).unwrap_or(c),
                '-' => '－',
                _ => c,
            })
            .collect()
    }

    fn utf16(s: &str, be: bool) -> Vec<u8> {
        s.encode_utf16()
            .flat_map(|u| if be { u.to_be_bytes() } else { u.to_le_bytes() })
            .collect()
    }

    #[test]
    fn ascii_plain_and_grouped() {
        assert_eq!(masks(b"card 4111111111111111 ok"), ["411111******1111"]);
        assert_eq!(masks(b"4111-1111-1111-1111"), ["411111******1111"]);
        assert_eq!(masks(b"x 4111 1111 1111 1111\n"), ["411111******1111"]);
        assert_eq!(masks(b"amex 3782 822463 10005."), ["378282*****0005"]);
        assert!(masks(b"4111111111111112").is_empty());
        assert!(
            masks(b"41111111111111110000").is_empty(),
            "overlong runs are not cards"
        );
        assert!(masks(b"4111 1111 1111").is_empty());
    }

    #[test]
    fn neighbouring_digits_do_not_hide_the_card() {
        assert_eq!(
            masks(b"order 12345 4111 1111 1111 1111 qty 2"),
            ["411111******1111"]
        );
        assert_eq!(masks(b"2024-05-01 4111111111111111"), ["411111******1111"]);
        let c = find_all(b"2024-05-01 4111111111111111");
        assert_eq!(c[0].start, 11);
        assert_eq!(c[0].end, 27);
    }

    #[test]
    fn fullwidth_digits() {
        let s = fw("カード番号：4111-1111-1111-1111 です");
        let c = find_all(s.as_bytes());
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].masked(), "411111******1111");
        assert_eq!(c[0].encoding, TextEncoding::FullWidth);
        // ASCII digits with full-width hyphens.
        let s = "4111－1111－1111－1111";
        assert_eq!(masks(s.as_bytes()), ["411111******1111"]);
        // Katakana long vowel marks as separators, with full-width digits.
        let s = "４１１１ー１１１１ー１１１１ー１１１１";
        assert_eq!(masks(s.as_bytes()), ["411111******1111"]);
    }

    #[test]
    fn ascii_number_next_to_fullwidth_text_is_reported_once() {
        let s = "４ 4111111111111111 －";
        assert_eq!(masks(s.as_bytes()), ["411111******1111"]);
    }

    #[test]
    fn utf16_both_orders() {
        for be in [false, true] {
            let mut data = vec![0xAAu8, 0xBB];
            data.extend(utf16(
                "card: 4111 1111 1111 1111 and ５５５５５５５５５５５５４４４４",
                be,
            ));
            let c = find_all(&data);
            let m: Vec<_> = c.iter().map(|c| c.masked()).collect();
            assert_eq!(m, ["411111******1111", "555555******4444"], "be={be}");
            let want = if be {
                TextEncoding::Utf16be
            } else {
                TextEncoding::Utf16le
            };
            assert!(c.iter().all(|c| c.encoding == want));
        }
    }

    #[test]
    fn class_masks_match_naive() {
        let data: Vec<u8> = (0..=255u8)
            .chain(b"0123456789 -/:2021202".iter().copied())
            .cycle()
            .take(3000)
            .collect();
        for start in 0..70 {
            for len in [0usize, 1, 7, 8, 9, 63, 64, 65, 127, 128, 129, 300] {
                let part = &data[start..start + len];
                let mut m = Vec::new();
                classify(part, &mut m);
                assert_eq!(m.len(), len.div_ceil(64));
                let bit = |v: u64, k: usize| v >> (k % 64) & 1 == 1;
                for (k, &b) in part.iter().enumerate() {
                    let w = m[k / 64];
                    let next = part.get(k + 1).copied().unwrap_or(b'x');
                    let lead = (b'2'..=b'6').contains(&b) && !(b == b'2' && b"01".contains(&next));
                    assert_eq!(bit(w.digit, k), b.is_ascii_digit(), "byte {b}");
                    assert_eq!(bit(w.lead, k), lead, "byte {b} before {next}");
                    assert_eq!(
                        bit(w.class, k),
                        b.is_ascii_digit() || b == b' ' || b == b'-',
                        "byte {b}"
                    );
                }
                if let Some(last) = m.last() {
                    let used = len - 64 * (m.len() - 1);
                    let beyond = |v: u64| if used == 64 { 0 } else { v >> used };
                    assert_eq!(
                        (beyond(last.class), beyond(last.digit), beyond(last.lead)),
                        (0, 0, 0)
                    );
                }
                // The portable classifier agrees on whole blocks too.
                for (k, c) in part.chunks(64).enumerate() {
                    let mut sw = block_masks_swar(c);
                    let mut simd = m[k];
                    // The SWAR block does not see the next block's first byte.
                    sw.lead &= !(1 << 63);
                    simd.lead &= !(1 << 63);
                    if c.len() == 64 {
                        assert_eq!(sw, simd);
                    }
                }
            }
        }
    }

    #[test]
    fn runs_across_ascii_windows_are_found_whole() {
        let card = b"4556 7375 8689 9855";
        let mut data = Vec::new();
        let mut want = Vec::new();
        // Cards ending just before a window edge (inside the context margin), across it, and
        // starting on it.
        for (k, delta) in [-60i64, -40, -19, -10, -1, 0, 3].into_iter().enumerate() {
            let at = ((k + 1) * ASCII_WINDOW) as i64 + delta;
            let at = usize::try_from(at).unwrap();
            data.resize(at - 2, b'x');
            data.extend_from_slice(b"\n ");
            want.push(data.len());
            data.extend_from_slice(card);
        }
        data.extend_from_slice(b" end\n");
        let got: Vec<usize> = find_all(&data).iter().map(|c| c.start).collect();
        assert_eq!(got, want);
        // A run of digits longer than a window, then a card after it: no endless loop.
        let mut long = vec![b'7'; ASCII_WINDOW + 1000];
        long.extend_from_slice(b" card 4556737586899855 ok");
        assert_eq!(masks(&long), ["455673******9855"]);
    }

    #[test]
    fn masked_debug_never_shows_the_number() {
        let c = find_all(b"4111111111111111");
        let dbg = format!("{:?}", c[0]);
        assert!(dbg.contains("411111******1111"));
        assert!(!dbg.contains("4111111111111111"));
    }

    /// Runs the streaming passes the way the stream scanner does, with a given read size.
    fn streamed(data: &[u8], chunk: usize) -> Vec<(usize, String)> {
        let mut rb = RunBuilder::default();
        let mut buf: Vec<u8> = Vec::new();
        let mut base = 0usize;
        let mut res = [0usize; 2];
        let mut found = Vec::new();
        let mut pos = 0;
        loop {
            let take = chunk.min(data.len() - pos);
            buf.extend_from_slice(&data[pos..pos + take]);
            pos += take;
            let eof = pos == data.len();
            let mut out = Vec::new();
            res[0] = ascii_pass(&buf, res[0], eof, &mut rb, &mut out);
            res[1] = fullwidth_pass(&buf, res[1], eof, &mut rb, &mut out);
            found.extend(out.iter().map(|c| (c.start + base, c.masked())));
            if eof {
                break;
            }
            let keep = res[0].min(res[1]);
            buf.drain(..keep);
            base += keep;
            res[0] -= keep;
            res[1] -= keep;
        }
        found.sort();
        found
    }

    fn card(prefix: &[u8], len: usize, seed: &[u8]) -> Vec<u8> {
        let mut d = prefix.to_vec();
        let mut k = 0;
        while d.len() < len - 1 {
            d.push(seed[k % seed.len()] % 10);
            k += 1;
        }
        d.push(luhn_check_digit(&d));
        d
    }

    /// The plain statement of the ASCII pass: every maximal run of 13 or more digit and
    /// separator bytes goes through the group machinery, with no filter in front.
    fn ascii_reference(hay: &[u8]) -> Vec<(usize, usize, String)> {
        let mut rb = RunBuilder::default();
        let mut out = Vec::new();
        let class = |b: u8| b.is_ascii_digit() || b == b' ' || b == b'-';
        let mut i = 0;
        while i < hay.len() {
            if !class(hay[i]) {
                i += 1;
                continue;
            }
            let s = i;
            while i < hay.len() && class(hay[i]) {
                i += 1;
            }
            if i - s >= MIN_DIGITS {
                rb.clear();
                for (j, &b) in hay[s..i].iter().enumerate() {
                    if b.is_ascii_digit() {
                        rb.digit(b - b'0', s + j, s + j + 1);
                    } else {
                        rb.sep();
                    }
                }
                rb.finish(hay, TextEncoding::Ascii, false, &mut out);
            }
        }
        dedupe_overlaps(&mut out, 0);
        out.iter().map(|c| (c.start, c.end, c.masked())).collect()
    }

    proptest! {
        #[test]
        fn filters_agree_with_reference(
            parts in proptest::collection::vec(prop_oneof![
                4 => proptest::collection::vec(0u8..10, 1..8).prop_map(|d| d.iter().map(|v| b'0' + v).collect::<Vec<u8>>()),
                1 => Just(b" ".to_vec()),
                1 => Just(b"-".to_vec()),
                1 => Just(b"  ".to_vec()),
                1 => Just(b"x".to_vec()),
                1 => Just(b"4111 1111 1111 1111".to_vec()),
                1 => Just(b"20".to_vec()),
            ], 0..60),
        ) {
            let hay: Vec<u8> = parts.concat();
            let got: Vec<_> = find_all(&hay).iter().map(|c| (c.start, c.end, c.masked())).collect();
            prop_assert_eq!(got, ascii_reference(&hay));
        }

        #[test]
        fn split_across_buffers_is_found(
            filler in proptest::collection::vec(prop_oneof![Just(b'a'), Just(b' '), Just(b'\n'), Just(b'7'), Just(b'-')], 0..300),
            seed in proptest::collection::vec(0u8..10, 1..20),
            sep in prop_oneof![Just(""), Just(" "), Just("-"), Just("－")],
            wide in any::<bool>(),
            chunk in 1usize..64,
        ) {
            let d = card(&[4], 16, &seed);
            let mut text = String::new();
            for (i, v) in d.iter().enumerate() {
                if i > 0 && i % 4 == 0 { text.push_str(sep); }
                let c = char::from(b'0' + v);
                text.push(if wide { char::from_u32(0xFF10 + u32::from(*v)).unwrap_or(c) } else { c });
            }
            let mut data = filler.clone();
            data.extend_from_slice(b" card=");
            let at = data.len();
            data.extend_from_slice(text.as_bytes());
            data.extend_from_slice(b";\n");
            data.extend_from_slice(&filler);
            let whole = streamed(&data, data.len());
            let split = streamed(&data, chunk);
            prop_assert_eq!(&whole, &split);
            prop_assert!(whole.iter().any(|(s, m)| *s == at && *m == mask_digits(&d)));
        }

        #[test]
        fn any_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..400), chunk in 1usize..50) {
            let _ = streamed(&data, chunk);
            let _ = find_all(&data);
        }

        #[test]
        fn planted_card_always_found(
            prefix in prop_oneof![Just(vec![4u8]), Just(vec![5u8, 3]), Just(vec![3u8, 5, 4, 0]), Just(vec![3u8, 7]), Just(vec![6u8, 0, 1, 1])],
            seed in proptest::collection::vec(0u8..10, 1..20),
        ) {
            let len = if prefix == [3, 7] { 15 } else { 16 };
            let d = card(&prefix, len, &seed);
            let s: String = d.iter().map(|v| char::from(b'0' + v)).collect();
            let text = format!("x,{s},y");
            let found = masks(text.as_bytes());
            prop_assert_eq!(found, vec![mask_digits(&d)]);
        }
    }
}
