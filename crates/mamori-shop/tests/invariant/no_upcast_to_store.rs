// The surface cannot be turned back into the whole store.
use std::sync::Arc;

fn handler(state: &mamori_shop::state::ShopState) {
    let whole: Arc<dyn mamori_store::Store> = state.store.clone();
    let _ = whole;
}

fn main() {}
