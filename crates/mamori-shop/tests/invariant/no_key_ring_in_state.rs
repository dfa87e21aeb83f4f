// Neither the shop's state nor the gateway gives out the key ring.
fn handler(state: &mamori_shop::state::ShopState) {
    let _ = &state.keys;
    let _ = &state.gateway.keys;
}

fn main() {}
