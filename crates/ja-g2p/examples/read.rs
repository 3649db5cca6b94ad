//! read <text>...: the reading (katakana) and phonemes the product speaks for each text.
fn main() {
    let assets = std::env::var("KOKORO_POOL_ASSETS").unwrap_or_else(|_| "assets".into());
    let g2p = ja_g2p::JaG2p::load(std::path::Path::new(&assets).join("ja-dict")).unwrap();
    for text in std::env::args().skip(1) {
        match (g2p.reading(&text), g2p.phonemize(&text)) {
            (Ok(r), Ok(p)) => println!("{text}\t{r}\t{p}"),
            (r, p) => println!("{text}\t{r:?}\t{p:?}"),
        }
    }
}
