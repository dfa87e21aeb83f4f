//! VERP addresses of notices: `n<notice id, 32 hex>.<tag, 20 hex>@<bounce domain>`. The tag is
//! the first 10 bytes of a keyed hash of the id ([`Gateway::notice_bounce_tag`]), so a delivery
//! status notification can name only a notice mamori sent: a forged one for another notice
//! does not match its tag and is ignored.

use mamori_store::Gateway;

/// Hex digits of the tag (80 bits).
const TAG_HEX: usize = 20;

fn tag(gw: &Gateway, notice_id: &str) -> String {
    hex::encode(&gw.notice_bounce_tag(notice_id)[..TAG_HEX / 2])
}

/// The envelope sender of a notice.
pub fn address(gw: &Gateway, notice_id: &str, bounce_domain: &str) -> Option<String> {
    let id = uuid::Uuid::parse_str(notice_id).ok()?;
    let canonical = id.to_string();
    Some(format!(
        "n{}.{}@{}",
        id.simple(),
        tag(gw, &canonical),
        bounce_domain.trim().to_ascii_lowercase()
    ))
}

/// The notice an address names, when it is one of ours at `bounce_domain` with a valid tag.
pub fn notice_of(gw: &Gateway, address: &str, bounce_domain: &str) -> Option<String> {
    let (local, domain) = address.trim().rsplit_once('@')?;
    if !domain.eq_ignore_ascii_case(bounce_domain.trim()) {
        return None;
    }
    let local = local.to_ascii_lowercase();
    let rest = local.strip_prefix('n')?;
    let (id_hex, given) = rest.split_once('.')?;
    if given.len() != TAG_HEX {
        return None;
    }
    let id = uuid::Uuid::try_parse(id_hex).ok()?.to_string();
    let want = tag(gw, &id);
    // Compared without an early exit (a timing difference would help guess a tag).
    let diff = want
        .bytes()
        .zip(given.bytes())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    (diff == 0).then_some(id)
}
