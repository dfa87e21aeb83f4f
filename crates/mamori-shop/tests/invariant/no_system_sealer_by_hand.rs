// A system sealer is made by the gateway only, for one purpose; it cannot be made from parts.
fn handler(state: &mamori_shop::state::ShopState) {
    let sealer = state
        .gateway
        .system_sealer(mamori_store::SystemPurpose::Sessions);
    let _ = mamori_store::SystemSealer { keys: todo!(), purpose: sealer.purpose() };
}

fn main() {}
