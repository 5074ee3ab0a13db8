fn main() {
    print!("{}", callback_operator::api::crd_yaml());
}
