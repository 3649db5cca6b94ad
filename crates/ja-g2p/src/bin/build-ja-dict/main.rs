//! build-ja-dict <raw pyopenjtalk dictionary dir> <out dir>: [`ja_g2p::dictionary_build::build`]
//! from the command line.
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [raw_dir, out_dir] = args.as_slice() else {
        eprintln!("usage: build-ja-dict <raw pyopenjtalk dictionary dir> <out dir>");
        return ExitCode::from(2);
    };
    let started = Instant::now();
    match ja_g2p::dictionary_build::build(Path::new(raw_dir), Path::new(out_dir)) {
        Ok(summary) => {
            println!("{summary}");
            println!(
                "built {out_dir} in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("build-ja-dict: {message}");
            ExitCode::FAILURE
        }
    }
}
