// A system sealer comes from the gateway (or whoever holds the key ring); its parts are not set by hand.
fn handler(state: &mamori_shop::state::ShopState) {
    let sealer = state
        .gateway
        .system_sealer(mamori_store::SystemPurpose::Sessions);
    // Nor can a session sealer be turned into a TOTP sealer.
    let _ = mamori_store::SystemSealer {
        purpose: mamori_store::SystemPurpose::StaffTotp,
        ..sealer
    };
}

fn main() {}
