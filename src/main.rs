fn main() {
    println!("ionflux");
}
