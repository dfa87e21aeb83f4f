// A handler has the gateway, but the gateway does not hand out the store below it.
fn handler(state: &mamori_shop::state::ShopState) {
    let _ = state.gateway.store();
}

fn main() {}
