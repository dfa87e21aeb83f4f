// The store surface a handler holds answers no question about a customer: no customer row, no
// address book, no whole order with its sealed buyer, no data key.
async fn handler(state: &mamori_shop::state::ShopState) {
    let _ = state.store.customer("id").await;
    let _ = state.store.addresses("id").await;
    let _ = state.store.order("id").await;
    let _ = state.store.customer_key("id").await;
}

fn main() {}
