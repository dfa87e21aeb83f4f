// The store crate names no key type: a handler crate (which does not depend on the vault) cannot
// even write down a key ring or a customer's data key.
fn handler(_ring: &mamori_store::KeyRing, _key: &mamori_store::DataKey) {}

fn main() {}
