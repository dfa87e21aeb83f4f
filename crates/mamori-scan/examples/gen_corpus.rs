//! Writes benchmark corpora: a shop-like log file of a given size, a directory tree of logs,
//! or the full test corpus (every format).
//!
//! `gen_corpus log FILE SIZE_MB` writes the digit-dense order log (several look-alike numbers
//! on every line); `gen_corpus access FILE SIZE_MB` writes web-server access logs mixed with
//! JSON application logs, closer to what a shop keeps on disk;
//! `gen_corpus tree DIR FILES SIZE_MB_EACH`, `gen_corpus all DIR`.

use mamori_scan::corpus::{generate, ShopData};
use std::io::Write;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<String> = std::env::args().collect();
    let usage = "usage: gen_corpus log|access FILE SIZE_MB | tree DIR FILES SIZE_MB_EACH | all DIR";
    match a.get(1).map(String::as_str) {
        Some(kind @ ("log" | "access")) if a.len() == 4 => {
            let mb: usize = a[3].parse()?;
            let mut shop = ShopData::new(1);
            // A 64 MiB block repeated: generation stays fast for 10 GB files.
            let (block, planted) = if kind == "log" {
                shop.log_block(64 << 20, 5000)
            } else {
                shop.access_block(64 << 20, 5000)
            };
            let mut f = std::io::BufWriter::new(std::fs::File::create(&a[2])?);
            let mut written = 0usize;
            let mut blocks = 0usize;
            while written < mb << 20 {
                let n = block.len().min((mb << 20) - written);
                f.write_all(&block[..n])?;
                written += n;
                blocks += 1;
            }
            f.flush()?;
            eprintln!(
                "wrote {written} bytes, about {} planted numbers",
                planted * blocks
            );
        }
        Some("tree") if a.len() == 5 => {
            let files: usize = a[3].parse()?;
            let mb: usize = a[4].parse()?;
            let mut shop = ShopData::new(2);
            let (block, _) = shop.log_block(mb << 20, 5000);
            for i in 0..files {
                let d = std::path::Path::new(&a[2]).join(format!("d{}", i % 8));
                std::fs::create_dir_all(&d)?;
                std::fs::write(d.join(format!("app{i}.log")), &block)?;
            }
        }
        Some("all") if a.len() == 3 => {
            let p = generate(std::path::Path::new(&a[2]), 42, 1)?;
            eprintln!("planted {} numbers", p.len());
        }
        _ => return Err(usage.into()),
    }
    Ok(())
}
