//! The streaming driver: big reads into one reusable buffer, the finder passes, carry-over of
//! unfinished runs, lazy line counting and scoring. Memory is bounded by the buffer size.

use crate::context::{assess_in, Assessment, Confidence, CTX_BEFORE};
use crate::finder::{
    ascii_pass, dedupe_overlaps, fullwidth_pass, utf16_pass, Candidate, RunBuilder,
};
use std::io::{self, Read};

/// Default read size.
pub const DEFAULT_BUFFER: usize = 1 << 20;
/// Longest unfinished run carried to the next buffer; longer runs of digits and spaces are cut.
const MAX_CARRY: usize = 64 * 1024;

/// One judged candidate with its position in the stream.
#[derive(Debug, Clone)]
pub struct Hit {
    /// The candidate (positions relative to the buffer it was found in; use `offset`).
    pub candidate: Candidate,
    /// Absolute byte offset of the first digit in the stream.
    pub offset: u64,
    /// 1-based line number of the first digit; 0 when the hit scored below
    /// [`StreamScanner::line_min_confidence`].
    pub line: u64,
    /// The score and reasons.
    pub assessment: Assessment,
}

/// Counts newline bytes. Line numbers need a count of every newline in the data, so this runs
/// over every byte: `bytecount` picks SSE2 or AVX2 at run time, which the workspace's ban on
/// `unsafe` does not allow here.
fn count_newlines(s: &[u8]) -> u64 {
    bytecount::count(s, b'\n') as u64
}

/// A reusable scanner for byte streams. One per thread.
pub struct StreamScanner {
    buf: Vec<u8>,
    buf_size: usize,
    rb: RunBuilder,
    cands: Vec<Candidate>,
    /// Set while scanning the raw pages of a database already scanned row by row.
    pub raw_db_page: bool,
    /// Hits scored below this carry line number 0: nobody reports their line, and look-alikes
    /// can number millions. The default, [`Confidence::Low`], numbers every hit.
    pub line_min_confidence: Confidence,
}

impl Default for StreamScanner {
    fn default() -> Self {
        Self::new(DEFAULT_BUFFER)
    }
}

impl StreamScanner {
    /// A scanner reading `buf_size` bytes at a time.
    pub fn new(buf_size: usize) -> Self {
        let buf_size = buf_size.max(4096);
        Self {
            buf: Vec::new(),
            buf_size,
            rb: RunBuilder::default(),
            cands: Vec::new(),
            raw_db_page: false,
            line_min_confidence: Confidence::Low,
        }
    }

    /// Scans a complete in-memory slice. `label` names the field (column) the data came from.
    pub fn scan_slice(&mut self, data: &[u8], label: Option<&str>, on_hit: &mut dyn FnMut(Hit)) {
        self.cands.clear();
        ascii_pass(data, 0, true, &mut self.rb, &mut self.cands);
        fullwidth_pass(data, 0, true, &mut self.rb, &mut self.cands);
        if memchr::memchr(0, data).is_some() {
            for be in [false, true] {
                for parity in 0..2 {
                    utf16_pass(data, parity, true, be, &mut self.rb, &mut self.cands);
                }
            }
        }
        dedupe_overlaps(&mut self.cands, 0);
        let mut line = 1u64;
        let mut line_pos = 0usize;
        for c in self.cands.drain(..) {
            let assessment = assess_in(&c, data, label, false);
            let mut hit_line = 0;
            if assessment.confidence >= self.line_min_confidence {
                line += count_newlines(&data[line_pos..c.start]);
                line_pos = c.start;
                hit_line = line;
            }
            on_hit(Hit {
                candidate: c,
                offset: c.start as u64,
                line: hit_line,
                assessment,
            });
        }
    }

    /// Scans a stream to its end. Returns the number of bytes read. On a read error the hits
    /// found so far have been delivered and the error is returned with the count in `read_so_far`.
    pub fn scan_read(
        &mut self,
        r: &mut dyn Read,
        label: Option<&str>,
        on_hit: &mut dyn FnMut(Hit),
        on_bytes: &mut dyn FnMut(u64),
    ) -> Result<u64, StreamError> {
        let cap = self.buf_size + MAX_CARRY + 2 * CTX_BEFORE + 64;
        if self.buf.len() != cap {
            self.buf.clear();
            self.buf.resize(cap, 0);
        }
        let mut len = 0usize;
        let mut base = 0u64;
        let mut total = 0u64;
        // Resume points: ascii, full-width, then utf16 [le even, le odd, be even, be odd] in absolute offsets.
        let mut res_ascii = 0u64;
        let mut res_fw = 0u64;
        let mut res_u16 = [0u64, 1, 0, 1];
        let mut line = 1u64;
        let mut line_pos = 0u64;
        loop {
            // Fill the buffer up to buf_size new bytes or end of stream.
            let target = (len + self.buf_size).min(cap);
            let mut eof = false;
            while len < target {
                match r.read(&mut self.buf[len..target]) {
                    Ok(0) => {
                        eof = true;
                        break;
                    }
                    Ok(n) => {
                        len += n;
                        total += n as u64;
                        on_bytes(n as u64);
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        // Judge what was read before failing, then report.
                        self.judge_buffer(
                            len,
                            base,
                            true,
                            &mut [res_ascii, res_fw],
                            &mut res_u16,
                            label,
                            &mut line,
                            &mut line_pos,
                            on_hit,
                        );
                        return Err(StreamError {
                            read_so_far: total,
                            source: e,
                        });
                    }
                }
            }
            let mut res = [res_ascii, res_fw];
            self.judge_buffer(
                len,
                base,
                eof,
                &mut res,
                &mut res_u16,
                label,
                &mut line,
                &mut line_pos,
                on_hit,
            );
            [res_ascii, res_fw] = res;
            if eof {
                return Ok(total);
            }
            // Carry over from the earliest unfinished run, with context before it.
            let end_abs = base + len as u64;
            let mut keep_abs = res_ascii
                .min(res_fw)
                .min(res_u16.iter().copied().min().unwrap_or(end_abs));
            let floor = end_abs.saturating_sub(MAX_CARRY as u64);
            if keep_abs < floor {
                keep_abs = floor;
            }
            res_ascii = res_ascii.max(keep_abs);
            res_fw = res_fw.max(keep_abs);
            for (k, r) in res_u16.iter_mut().enumerate() {
                if *r < keep_abs {
                    // Keep the unit alignment of this pass.
                    *r = keep_abs + ((keep_abs + k as u64) % 2);
                }
            }
            let keep_from_abs = keep_abs.saturating_sub(CTX_BEFORE as u64 * 2).max(base);
            let keep_from = (keep_from_abs - base) as usize;
            if line_pos < keep_from_abs {
                line += count_newlines(&self.buf[(line_pos - base) as usize..keep_from]);
                line_pos = keep_from_abs;
            }
            self.buf.copy_within(keep_from..len, 0);
            len -= keep_from;
            base = keep_from_abs;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn judge_buffer(
        &mut self,
        len: usize,
        base: u64,
        eof: bool,
        res: &mut [u64; 2],
        res_u16: &mut [u64; 4],
        label: Option<&str>,
        line: &mut u64,
        line_pos: &mut u64,
        on_hit: &mut dyn FnMut(Hit),
    ) {
        let hay = &self.buf[..len];
        let rel = |abs: u64| (abs.saturating_sub(base) as usize).min(len);
        self.cands.clear();
        res[0] = base + ascii_pass(hay, rel(res[0]), eof, &mut self.rb, &mut self.cands) as u64;
        res[1] = base + fullwidth_pass(hay, rel(res[1]), eof, &mut self.rb, &mut self.cands) as u64;
        if memchr::memchr(0, hay).is_some() {
            for (k, r) in res_u16.iter_mut().enumerate() {
                let from = rel(*r);
                *r =
                    base + utf16_pass(hay, from, eof, k >= 2, &mut self.rb, &mut self.cands) as u64;
            }
        } else {
            // No NUL byte: no UTF-16 digit here. Skip to near the end, keeping each alignment.
            for (k, r) in res_u16.iter_mut().enumerate() {
                let near_end = (base + len as u64).saturating_sub(4).max(*r);
                *r = near_end + ((near_end + k as u64) % 2);
            }
        }
        if self.cands.is_empty() {
            return;
        }
        dedupe_overlaps(&mut self.cands, base);
        for c in self.cands.drain(..) {
            let abs = base + c.start as u64;
            let assessment = assess_in(&c, hay, label, self.raw_db_page);
            let mut hit_line = 0;
            if assessment.confidence >= self.line_min_confidence {
                if abs > *line_pos {
                    *line += count_newlines(&hay[rel(*line_pos)..c.start]);
                    *line_pos = abs;
                }
                hit_line = *line;
            }
            on_hit(Hit {
                candidate: c,
                offset: abs,
                line: hit_line,
                assessment,
            });
        }
    }
}

/// A read error in the middle of a stream, with how much was read and scanned before it.
#[derive(Debug, thiserror::Error)]
#[error("read failed after {read_so_far} bytes: {source}")]
pub struct StreamError {
    /// Bytes read and scanned before the error.
    pub read_so_far: u64,
    /// The underlying error.
    #[source]
    pub source: io::Error,
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn run(data: &[u8], buf: usize, step: usize) -> Vec<(u64, u64, String)> {
        let mut s = StreamScanner::new(buf);
        let mut out = Vec::new();
        let mut r = Trickle { data, step };
        let n = s
            .scan_read(
                &mut r,
                None,
                &mut |h| out.push((h.offset, h.line, h.candidate.masked())),
                &mut |_| {},
            )
            .unwrap_or(0);
        assert_eq!(n, data.len() as u64);
        out
    }

    #[test]
    fn count_newlines_matches_naive() {
        let data: Vec<u8> = (0..100_000u32)
            .map(|i| if i % 7 == 0 { b'\n' } else { b'a' })
            .collect();
        assert_eq!(
            count_newlines(&data),
            data.iter().filter(|&&b| b == b'\n').count() as u64
        );
    }

    #[test]
    fn offsets_and_lines_survive_small_buffers() {
        let mut data = Vec::new();
        let mut want = Vec::new();
        for i in 0..3000u64 {
            if i % 97 == 13 {
                want.push((data.len() as u64 + 5, i + 1));
                data.extend_from_slice("card 4556-7375-8689-9855 ok\n".as_bytes());
            } else if i % 131 == 7 {
                let s = "ｃａｒｄ ４５５６７３７５８６８９９８５５\n";
                want.push((data.len() as u64 + "ｃａｒｄ ".len() as u64, i + 1));
                data.extend_from_slice(s.as_bytes());
            } else {
                data.extend_from_slice(
                    format!(
                        "2024-05-01 12:00:{:02} order {} tel 090-1234-5678\n",
                        i % 60,
                        i
                    )
                    .as_bytes(),
                );
            }
        }
        let big = run(&data, 1 << 20, 1 << 20);
        let got: Vec<_> = big.iter().map(|(o, l, _)| (*o, *l)).collect();
        assert_eq!(got, want);
        for (buf, step) in [(4096, 4096), (4096, 333), (5000, 17)] {
            assert_eq!(run(&data, buf, step), big, "buf={buf} step={step}");
        }
    }

    #[test]
    fn only_hits_at_the_line_threshold_are_numbered() {
        let data = b"a\njan 4901234567894\nb\ncard 4556737586899855\n";
        let mut s = StreamScanner::new(4096);
        s.line_min_confidence = Confidence::Medium;
        let mut hits = Vec::new();
        s.scan_read(
            &mut &data[..],
            None,
            &mut |h| hits.push((h.line, h.assessment.confidence)),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(hits, [(0, Confidence::Low), (4, Confidence::High)]);
    }

    #[test]
    fn utf16_stream_split() {
        let text: String = (0..2000)
            .map(|i| {
                if i % 50 == 0 {
                    "card 4556 7375 8689 9855\r\n".to_string()
                } else {
                    format!("line {i}\r\n")
                }
            })
            .collect();
        let data: Vec<u8> = text.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        let big = run(&data, 1 << 20, 1 << 20);
        assert_eq!(big.len(), 40);
        assert_eq!(run(&data, 4096, 1000), big);
    }
}
